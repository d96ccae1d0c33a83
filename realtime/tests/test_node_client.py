"""Runs the Node tests (realtime/tests/node/, node:test) with the official socket.io-client."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from testing import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_official_js_client_works_against_our_server(world, asgi_server, rq_worker):
    node = shutil.which("node")
    assert node, "node is required for the JS client tests (make test installs the npm packages)"
    assert (BASE_DIR / "node_modules" / "socket.io-client").is_dir(), "run `npm ci` (make test does)"
    env = {
        "PATH": str(BASE_DIR / "node_modules" / ".bin") + ":/usr/bin:/bin:/usr/local/bin",
        "SERVER_URL": asgi_server.url,
        "TOKEN": world.token(world.bob),
        "OUTSIDER_TOKEN": world.token(world.charlie),
        "PROJECT_ID": str(world.apollo.pk),
    }
    out = subprocess.run(
        [
            node,
            "--test",
            "--test-force-exit",
            "--test-reporter=spec",
            str(BASE_DIR / "realtime/tests/node/client.test.mjs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BASE_DIR,
    )
    print(out.stdout[-3000:])
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "fail 0" in out.stdout
