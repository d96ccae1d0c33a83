"""Per-room pub/sub channels (issue 11): a server process subscribes to a room's channel while the
room has local members, a join of a room already subscribed costs no Redis round trip, and a
first member's join (which subscribes) still gets every event in order while events keep coming."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis

from realtime.delivery.channels import room_channel
from realtime.delivery.subscriptions import Subscriptions
from realtime.emit import emit, project_room, user_room
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def numsub(channel: str) -> int:
    from realtime.redis import realtime_url

    return redis.Redis.from_url(realtime_url()).pubsub_numsub(channel)[0][1]


def subscribe_calls() -> int:
    from realtime.redis import realtime_url

    stats = redis.Redis.from_url(realtime_url()).info("commandstats")
    return stats.get("cmdstat_subscribe", {}).get("calls", 0)


def test_a_room_is_subscribed_while_it_has_local_members(world, connect):
    channel = room_channel("/", project_room(world.apollo.pk))
    assert numsub(channel) == 0
    alice = connect(world.token(world.alice))
    bob = connect(world.token(world.bob))
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert numsub(channel) == 1  # confirmed before the join answered
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert numsub(channel) == 1  # one subscription per process, not per member
    assert alice.call("unsubscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert numsub(channel) == 1  # bob is still in it
    bob.disconnect()
    wait_until(lambda: numsub(channel) == 0, timeout=10, what="the room's channel unsubscribed")
    assert numsub(room_channel("/", user_room(world.bob.pk))) == 0
    assert numsub(room_channel("/", user_room(world.alice.pk))) == 1


def test_joining_a_room_already_subscribed_sends_no_subscribe(world, connect):
    alice = connect(world.token(world.alice))
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    before = subscribe_calls()
    bob = connect(world.token(world.bob))  # joins his own rooms (new) and...
    after_connect = subscribe_calls()
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True  # ...apollo (subscribed)
    assert subscribe_calls() == after_connect
    assert after_connect > before  # the counter does count this process's subscribes
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    for client in (alice, bob):
        client.wait_for("test_event", lambda d: d["n"] == 1)


def test_a_first_member_joining_during_a_flood_gets_every_event_once_in_order(world, connect, settings):
    """Each reconnect makes alice the first local member of her room again: the subscription is
    made on her join, while an emitter keeps publishing. The replay read happens after the
    subscription is confirmed, so nothing falls between the log and pub/sub."""
    settings.REPLAY_LOG_MAXLEN = 100_000  # the emitter trims the log: keep all of it (no log_truncated)
    mine = user_room(world.alice.pk)
    alice = connect(world.token(world.alice))
    channel = room_channel("/", mine)
    stop, sent = threading.Event(), [0]

    def keep_emitting() -> None:
        while not stop.is_set() and sent[0] < 5000:
            sent[0] += 1
            emit("test_event", {"n": sent[0]}, room=mine)

    emitter = threading.Thread(target=keep_emitting, daemon=True)
    emitter.start()
    try:
        for cycle in range(1, 6):
            alice.wait_for("test_event", lambda d: True)
            alice.disconnect()
            wait_until(lambda: numsub(channel) == 0, timeout=10, what="the room's channel unsubscribed")
            alice.reconnect()
            alice.wait_for("connected", count=cycle + 1)
    finally:
        stop.set()
        emitter.join(10)
    last = sent[0]
    alice.wait_for("test_event", lambda d: d["n"] == last, timeout=30)
    assert alice.duplicates == 0 and not alice.resyncs
    assert [d["n"] for d in alice.received("test_event")] == list(range(1, last + 1))


def test_a_leave_and_rejoin_before_redis_answers_leaves_the_room_subscribed():
    """Subscriptions against the real Redis, without a server: add, discard and add again in one
    loop turn must end subscribed (the commands reach Redis in the order wanted), and a room's
    events are heard."""
    from realtime.redis import realtime_url

    key = ("/", "project:subscriptions-test")
    channel = room_channel(*key)
    resubscribed: list[tuple[str, str]] = []

    async def on_resubscribed(room: tuple[str, str]) -> None:
        resubscribed.append(room)

    async def scenario() -> list[bytes]:
        subs = Subscriptions(realtime_url, on_resubscribed)
        received: list[bytes] = []
        arrived = asyncio.Event()

        async def listen() -> None:
            async for message in subs.listen():
                received.append(message["data"])
                arrived.set()

        listener = asyncio.create_task(listen())
        try:
            await subs.add(key)
            for _ in range(3):
                subs.discard(key)
                await subs.add(key)  # joined again in the same turn: nothing to send
                subs.discard(key)
                await asyncio.sleep(0)  # the UNSUBSCRIBE goes out...
                await subs.add(key)  # ...and the SUBSCRIBE after it, confirmed before this returns
            publisher = redis.asyncio.Redis.from_url(realtime_url())
            assert await publisher.publish(channel, b"hello") == 1
            await publisher.aclose()
            await asyncio.wait_for(arrived.wait(), timeout=5)
            subs.discard(key)
            return received
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    assert asyncio.run(scenario()) == [b"hello"]
    assert resubscribed == []  # nothing was lost, so no catch-up was asked for


def test_a_join_skips_the_live_events_its_replay_already_sent(world):
    """The pub/sub stream can lag behind a join's read (a flood's backlog is handed out a few
    messages per loop turn, on another connection): events the replay sent may come live after
    the join ended. The connection's floor skips them, and goes with the first event past it."""
    from realtime import eventlog
    from realtime.delivery.continuity import seq_of
    from realtime.delivery.joins import Joins
    from realtime.redis import async_client
    from testing import redis_clients

    room = project_room(world.apollo.pk)
    published = [emit("test_event", {"n": n}, room=room, on_commit=False) for n in range(1, 6)]
    epoch = published[-1].epoch
    since = published[1].seq  # the client saw the first two

    async def scenario() -> tuple[list[int], list]:
        sent: list[int] = []

        async def enter(sid: str, namespace: str, room: str) -> None:
            return None

        async def send_to_sid(sid: str, namespace: str, event: str, data: object) -> None:
            sent.append(-1)  # a resync_required: not expected here

        async def send_logged(sid: str, namespace: str, msg: dict) -> None:
            sent.append(seq_of(msg))

        joins = Joins(enter, send_to_sid, send_logged)
        await joins.join("sid-1", "/", room, since, epoch, "/")
        # the lagging stream now hands out the last two events the replay sent, then a new one
        late = (await eventlog.read_missed(async_client(), "/", room, since=since + 1, epoch=epoch)).messages
        emit("test_event", {"n": 6}, room=room, on_commit=False)
        new = (await eventlog.read_missed(async_client(), "/", room, since=published[-1].seq, epoch=epoch)).messages
        skips = [joins.hold(msg).get("skip_sid") for msg in late[-2:] + new]
        return sent, skips

    with redis_clients.fresh():
        sent, skips = asyncio.run(scenario())
    assert sent == [p.seq for p in published[2:]]  # replayed what it missed, once
    assert skips == [["sid-1"], ["sid-1"], None]  # the late two skipped; the new one goes to it
