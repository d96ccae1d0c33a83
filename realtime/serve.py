"""`python -m realtime.serve [daphne's options] project.asgi:application`: daphne on uvloop.

daphne runs Twisted's asyncio reactor on an event loop it creates when `daphne.server` is
imported, so the loop implementation has to be chosen before that import; `daphne` on the
command line can't. This sets uvloop's policy (libuv: faster loop turns and socket I/O than
asyncio's selector loop, measured in docs/benchmarks.md) and then runs daphne's own command line
unchanged, when settings.REALTIME_UVLOOP is on (REALTIME_UVLOOP=1; off by default, measured
within noise). Off, or uvloop not installed, leaves asyncio's default loop."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

log = logging.getLogger(__name__)


def use_uvloop() -> bool:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")  # as project/asgi.py
    try:
        from project.runenv import load_run_env  # this repository's `make run` only
    except ImportError:  # a host project (the installed package): its environment as it is
        pass
    else:
        load_run_env()  # as manage.py: what `make run` chose, under the real environment
    from django.conf import settings  # the settings module only: it imports nothing of daphne's

    if not settings.REALTIME_UVLOOP:
        return False
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed: daphne runs on asyncio's default loop")
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def main(argv: list[str] | None = None) -> None:
    if "daphne.server" in sys.modules:
        raise RuntimeError("realtime.serve must choose the loop before daphne.server is imported")
    use_uvloop()
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
