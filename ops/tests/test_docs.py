"""The docs' promises hold: docs/events.md is generated from the current contract, and the client
guide's Python and browser examples work against the live server (replay included)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from testing import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_has_the_event_contract_page_up_to_date():
    out = subprocess.run(
        [sys.executable, "docs/tools/render_events.py", "--check"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_the_python_example_replays_what_it_missed(world, asgi_server):
    out = subprocess.run(
        [sys.executable, "docs/examples/python_client.py", asgi_server.url, world.token(world.bob)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["received"] == [1, 2, 3, 4]
    assert summary["room"] == f"user:{world.bob.pk}"
    assert summary["resyncs"] == []


def test_the_browser_example_replays_what_it_missed(world, asgi_server):
    node = shutil.which("node")
    assert node, "node is required (make test installs the npm packages)"
    out = subprocess.run(
        [node, "docs/examples/check-replay-client.mjs"],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "SERVER_URL": asgi_server.url, "TOKEN": world.token(world.bob)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"received": [1, 2, 3, 4]}
