"""`manage.py outbox_relay`: the outbox relay (realtime/outbox.py) outside the server processes
(every server process already runs it: REALTIME_SERVER_TASKS). `--once` publishes what is due
now and prints how many were published and how many still wait."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand

from realtime import outbox


class Command(BaseCommand):
    help = "Publish the events waiting in the outbox (once, or until interrupted)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            published, pending = outbox.relay_once()
            backlog = outbox.backlog()
            self.stdout.write(
                f"published {published}, not taken {pending}; waiting {backlog['waiting']} "
                f"(oldest {backlog['oldest_age_seconds']} s)"
            )
            return
        self.stdout.write("outbox relay running (Ctrl-C to stop)")
        try:
            outbox.relay_forever(threading.Event())
        except KeyboardInterrupt:
            pass
