"""The nginx config (scripts/nginx.conf.template, as testing/nginx.py and `make run` render it):
its access log never holds the `?token=` of a Socket.IO long-polling request, and after a
failover to a backup process the stickiness cookie names the process that answered."""

from __future__ import annotations

import uuid

import pytest
import requests

from testing import BASE_DIR
from testing import nginx as nginx_proc
from tools import embedded_redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxied(asgi_server):
    """nginx with two backends: a dead port first (realtime_0), the live test server second."""
    dead = f"127.0.0.1:{embedded_redis.free_port()}"
    live = f"127.0.0.1:{asgi_server.port}"
    prefix = BASE_DIR / "var" / f"nginx-test-{uuid.uuid4().hex[:8]}"
    proxy = nginx_proc.start(port=embedded_redis.free_port(), backends=[dead, live], prefix=prefix)
    yield proxy
    proxy.stop()


def test_the_access_log_never_holds_a_query_string_token(proxied):
    secret = f"secret-{uuid.uuid4().hex}"
    r = requests.get(
        f"{proxied.url}/socket.io/", params={"EIO": "4", "transport": "polling", "token": secret}, timeout=10
    )
    assert r.status_code in (200, 400, 401, 403), r.text  # the answer does not matter, the log line does
    proxied.stop()  # flushes and closes the log
    log = (proxied.prefix / "access.log").read_text()
    assert "GET /socket.io/ " in log
    assert secret not in log
    assert "token=" not in log


def test_after_a_failover_the_cookie_names_the_process_that_answered(proxied):
    # the cookie says realtime_0 (dead): nginx tries it, then its backup, so $upstream_addr is
    # "dead, live", which must still map to realtime_1
    r = requests.get(f"{proxied.url}/healthz", cookies={"io_srv": "realtime_0"}, timeout=10)
    assert r.status_code == 200
    assert r.cookies.get("io_srv") == "realtime_1", r.headers.get("Set-Cookie")
