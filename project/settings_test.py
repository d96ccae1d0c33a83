"""Settings for the test suite and the server/worker processes it starts: the production
settings with development defaults, and contract validation of every emitted payload."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("REALTIME_VALIDATE_EVENTS", "1")
os.environ.setdefault("PROGRESS_MIN_INTERVAL_SECONDS", "0.05")
os.environ.setdefault("JOBS_LOST_GRACE_SECONDS", "5")

from project.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
