"""Losing access takes effect through a Redis outage (issue 17): the revocation command is stored
with the change (realtime.models.RevocationCommand) and every server reads the stored commands each
REALTIME_REVOCATION_POLL_SECONDS, so a command whose publish failed (Redis stopped) or timed out
(Redis hung) still ends the live connection, and once only."""

from __future__ import annotations

import os
import signal

import pytest

from realtime.models import RevocationCommand
from realtime.revocation import ACCESS_REVOKED
from testing.counts import record_counts
from testing.processes import start_server
from testing.revocation import closed_with

pytestmark = pytest.mark.django_db(transaction=True)

# the poll's interval (1 s by default) plus the outage's publish timeout and a busy machine
OUTAGE_EFFECT_TIMEOUT = 5.0


@pytest.mark.parametrize("mode", ["stopped", "hung"])
def test_a_deactivation_during_a_redis_outage_still_closes_the_connection(world, on_own_redis, connect, request, mode):
    server = start_server(REDIS_URL=on_own_redis.url)
    request.addfinalizer(server.proc.stop)
    bob = connect(world.token(world.bob), url=server.url)
    stays = connect(world.token(world.alice), url=server.url)
    if mode == "hung":
        os.kill(on_own_redis.popen.pid, signal.SIGSTOP)
        request.addfinalizer(lambda: os.kill(on_own_redis.popen.pid, signal.SIGCONT))
    else:
        on_own_redis.stop()
    try:
        world.bob.is_active = False
        world.bob.save()  # its publish fails (or times out): the servers' polls apply it
        assert RevocationCommand.objects.filter(payload__user_id=world.bob.pk).exists()
        error = closed_with(bob, ACCESS_REVOKED)(OUTAGE_EFFECT_TIMEOUT)
    finally:
        if mode == "hung":
            os.kill(on_own_redis.popen.pid, signal.SIGCONT)
        else:
            on_own_redis.start()
    assert "deactivated" in error["message"]
    assert stays.sio.connected and not [e for e in stays.received("error") if e["code"] == ACCESS_REVOKED]
    record_counts(f"revocation through a Redis outage ({mode})", {"closed": 1, "others_kept": 1})
