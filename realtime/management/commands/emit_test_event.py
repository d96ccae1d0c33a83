from django.core.management.base import BaseCommand, CommandError

from realtime.diagnostics import emit_test_event, redis_url_for_humans


class Command(BaseCommand):
    help = "Send test_event {n} to a room through Redis (checks delivery end to end)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("room", help="e.g. user:5, tenant:2, project:7")
        parser.add_argument("--n", type=int, default=0)
        parser.add_argument("--namespace", default="/")
        parser.add_argument("--text", default="")

    def handle(self, *args, **options) -> None:
        try:
            result = emit_test_event(
                room=options["room"],
                n=options["n"],
                source="command",
                namespace=options["namespace"],
                text=options["text"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        receivers = result["receivers"]
        if receivers == 0:
            raise CommandError(
                f"test_event n={options['n']} to {result['room']} (seq={result['seq']}) reached no server process: "
                f"none has a member of the room on {redis_url_for_humans()}. Is the server running, on this Redis "
                "(REALTIME_REDIS_URL or REDIS_URL), with a client in the room?"
            )
        self.stdout.write(
            f"sent test_event n={options['n']} to {result['room']} seq={result['seq']} "
            f"received by {receivers} server process(es)"
        )
