"""`manage.py check --deploy` is clean with the production settings (DEBUG off, a real secret,
hosts and origins from the environment, nothing else), and production refuses to start without
a secret or with a wildcard Socket.IO origin."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_"))}
    environ.pop("DEBUG", None)
    environ.update(DJANGO_SETTINGS_MODULE="project.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "app.example.com",
    "SOCKETIO_ALLOWED_ORIGINS": "https://app.example.com",
}


def test_it_passes_the_deploy_checks_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_or_with_a_wildcard_origin():
    no_secret = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert no_secret.returncode != 0 and "SECRET_KEY must be set" in no_secret.stderr
    wildcard = manage("check", **{**PRODUCTION, "SOCKETIO_ALLOWED_ORIGINS": "*"})
    assert wildcard.returncode != 0 and "SOCKETIO_ALLOWED_ORIGINS" in wildcard.stderr
