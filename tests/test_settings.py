"""Settings are read in project/settings.py alone: a bad value stops a process at start-up, and
code follows the defaults written there (REALTIME_UVLOOP is off unless asked for, as the README says)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REALTIME_UVLOOP", "PROVISIONING_STEP_SECONDS", "SOCKETIO_MAX_BUFFERED_BYTES")
    }
    environ.update(DJANGO_SETTINGS_MODULE="project.settings_test", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )


USE_UVLOOP = "from realtime import serve; print('uvloop', serve.use_uvloop())"


def test_it_runs_daphne_on_asyncio_s_loop_unless_realtime_uvloop_is_on():
    default = python(USE_UVLOOP)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == "uvloop False" and "uvloop" not in default.stderr  # not even tried

    asked = python(USE_UVLOOP, REALTIME_UVLOOP="1")
    assert asked.returncode == 0, asked.stderr
    # uvloop is optional (not in requirements.txt): either it is used, or its absence is reported.
    assert asked.stdout.strip() == "uvloop True" or "uvloop is not installed" in asked.stderr


def test_it_refuses_a_negative_step_pace_at_start_up():
    result = python(
        "from django.conf import settings; settings.PROVISIONING_STEP_SECONDS", PROVISIONING_STEP_SECONDS="-1"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: PROVISIONING_STEP_SECONDS must be a finite number of seconds" in result.stderr


def test_it_refuses_a_buffered_bytes_bound_of_zero_or_not_a_number_at_start_up():
    read = "from django.conf import settings; print(settings.SOCKETIO_MAX_BUFFERED_BYTES)"
    assert python(read).stdout.strip() == str(1024 * 1024)  # the default: 1 MiB
    assert python(read, SOCKETIO_MAX_BUFFERED_BYTES="262144").stdout.strip() == "262144"
    for bad in ("0", "-1", "lots", "1.5", ""):
        result = python(read, SOCKETIO_MAX_BUFFERED_BYTES=bad)
        assert result.returncode != 0, bad
        assert "SOCKETIO_MAX_BUFFERED_BYTES must be a whole number of bytes above 0" in result.stderr, bad


def test_it_refuses_a_cluster_flag_without_a_cluster_url_at_start_up():
    code = "from django.conf import settings; settings.REALTIME_REDIS_CLUSTER"
    result = python(code, REALTIME_REDIS_CLUSTER="1", REALTIME_REDIS_URL="")
    assert result.returncode != 0
    assert "REALTIME_REDIS_CLUSTER=1 needs REALTIME_REDIS_URL" in result.stderr
    fine = python(code, REALTIME_REDIS_CLUSTER="1", REALTIME_REDIS_URL="redis://127.0.0.1:7000/0")
    assert fine.returncode == 0, fine.stderr
