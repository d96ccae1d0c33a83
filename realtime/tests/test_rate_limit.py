"""The per-connection token bucket (realtime.sessions.TokenBucket): pure logic, a fake clock."""

from __future__ import annotations

import pytest

from realtime.auth import Identity
from realtime.sessions import STRIKE_RESET_SECONDS, TELL_EVERY_STRIKES, Session, Throttled, TokenBucket


@pytest.fixture(autouse=True)
def limits(settings):
    settings.SOCKETIO_RATE_LIMIT_PER_SECOND = 20
    settings.SOCKETIO_RATE_LIMIT_BURST = 40


def disconnect_threshold(settings) -> int:
    return settings.SOCKETIO_RATE_LIMIT_BURST * 5  # Session.throttle


def test_a_burst_passes_then_the_bucket_refuses_and_refills():
    bucket = TokenBucket(now=0.0)
    assert all(bucket.take(now=0.0) for _ in range(40))
    assert bucket.take(now=0.0) is False and bucket.strikes == 1
    assert bucket.take(now=0.05) is True  # 20/s: one token back after 50 ms


def test_a_long_lived_client_with_occasional_bursts_is_never_disconnected(settings):
    bucket = TokenBucket(now=0.0)
    now = 0.0
    for _ in range(1000):  # a burst of 41 events every minute, for 1000 minutes
        results = [bucket.take(now=now) for _ in range(41)]
        assert results.count(False) == 1
        now += 60
    assert bucket.strikes == 1 < disconnect_threshold(settings)


def test_strikes_accumulate_while_a_client_keeps_flooding(settings):
    bucket = TokenBucket(now=0.0)
    now = 0.0
    while bucket.strikes <= disconnect_threshold(settings):
        bucket.take(now=now)
        now += 0.001  # 1000 events a second, for as long as it takes
    assert now < STRIKE_RESET_SECONDS


def test_strikes_are_forgotten_only_after_a_quiet_period():
    bucket = TokenBucket(now=0.0)
    for _ in range(45):
        bucket.take(now=0.0)
    assert bucket.strikes == 5
    for _ in range(41):
        bucket.take(now=STRIKE_RESET_SECONDS - 1)  # refilled, then refused again: not quiet long enough
    assert bucket.strikes == 6
    for _ in range(41):
        bucket.take(now=2 * STRIKE_RESET_SECONDS)  # quiet since its last strike: starts over
    assert bucket.strikes == 1


def test_a_flooding_session_is_refused_told_every_so_often_then_disconnected(settings):
    """Both protocols act on Session.throttle's verdicts (the Socket.IO namespace acks and tells,
    /ws/rooms/ answers every refused frame; both end a flood)."""
    identity = Identity(user_id=1, username="alice", tenant_id=None, is_staff=False, via="jwt")
    session = Session(identity, None, transport=None, protocol="test")  # type: ignore[arg-type]
    verdicts = [session.throttle()]
    while verdicts[-1] is not Throttled.DISCONNECT and len(verdicts) < 1000:
        verdicts.append(session.throttle())
    assert verdicts[:40] == [Throttled.NO] * 40  # the burst, all at once (it refills at 20/s meanwhile)
    refused = [v for v in verdicts[40:] if v is not Throttled.NO]
    assert refused[0] is Throttled.TELL and refused[1] is Throttled.REFUSE
    assert refused[TELL_EVERY_STRIKES] is Throttled.TELL
    assert verdicts[-1] is Throttled.DISCONNECT and len(refused) == disconnect_threshold(settings) + 1
