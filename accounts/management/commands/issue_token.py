from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.tokens import issue_jwt


class Command(BaseCommand):
    help = "Print a JWT for USERNAME (for mobile apps and service clients)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        self.stdout.write(issue_jwt(user=user, ttl_seconds=options["ttl"]))
