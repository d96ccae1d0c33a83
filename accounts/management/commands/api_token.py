"""`manage.py api_token USERNAME [--name NAME]`: issue an API token (printed once, stored hashed);
`--revoke NAME` revokes the user's active tokens of that name, `--list` lists them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import ApiToken

NAME_MAX = ApiToken._meta.get_field("name").max_length


class Command(BaseCommand):
    help = "Issue an API token for USERNAME (printed once, only its hash is stored), or revoke or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--name", default="cli", help="a name to recognise the token by (default: cli)")
        action.add_argument("--revoke", metavar="NAME", help="revoke the user's active tokens named NAME")
        action.add_argument("--list", action="store_true", help="list the user's tokens (never the tokens)")

    def handle(self, *args: object, **options: object) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        if options["list"]:
            for token in ApiToken.objects.filter(user=user).order_by("created_at"):
                state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
                self.stdout.write(f"{token.name}\t{token.prefix}…\tcreated {token.created_at:%Y-%m-%d %H:%M}\t{state}")
            return
        if options["revoke"]:
            tokens = list(active.filter(name=options["revoke"]))
            if not tokens:
                raise CommandError(f"{user.username} has no active API token named {options['revoke']!r}")
            for token in tokens:  # one save each: the model's signals see every revocation
                token.revoked_at = timezone.now()
                token.save(update_fields=["revoked_at"])
            self.stdout.write(f"revoked {len(tokens)} API token(s) named {options['revoke']!r} of {user.username}")
            return
        name = str(options["name"]).strip()
        if not name or len(name) > NAME_MAX or not name.isprintable():
            raise CommandError(f"--name must be 1 to {NAME_MAX} printable characters")
        if active.filter(name=name).exists():
            raise CommandError(
                f"{user.username} already has an active API token named {name!r}: "
                f"revoke it (--revoke {name}) or choose another --name"
            )
        _, raw = ApiToken.create_for(user=user, name=name)
        self.stdout.write(raw)
