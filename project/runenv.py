"""`make run` records the settings it chose (debug mode, its private Redis, the database, the
secret's source) in var/run.env; a second terminal's `manage.py` (and `python -m realtime.serve`)
read it, so the README's shell lines talk to what `make run` runs. The real environment wins over
the file (django-environ's `read_env` sets only what is unset). Only for the production settings
module: the test suite's processes (project.settings_test) get their whole environment from the
suite, never from a developer's last `make run`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import environ

RUN_ENV = Path(__file__).resolve().parent.parent / "var" / "run.env"


def load_run_env(path: Path | None = None, argv: list[str] | None = None) -> bool:
    """Read `path` (RUN_ENV_FILE, else var/run.env) into os.environ, unset names only; True when
    it was there and read."""
    path = path or Path(os.environ.get("RUN_ENV_FILE") or RUN_ENV)
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "project.settings")
    other_settings = any(arg.startswith("--settings") for arg in (sys.argv if argv is None else argv))
    if settings_module != "project.settings" or other_settings or not path.is_file():
        return False
    environ.Env.read_env(str(path), overwrite=False)
    return True
