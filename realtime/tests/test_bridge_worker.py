"""An RQ job written for Channels (`get_channel_layer().group_send`) reaches Socket.IO clients and
plain WebSocket clients, with the bridged layer configured as CHANNEL_LAYERS."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from realtime.bridge import room_to_group
from realtime.emit import project_room
from realtime.tests.test_bridge_support import RoomStreamClient

pytestmark = pytest.mark.django_db(transaction=True)

BRIDGE_SETTINGS = "realtime.tests.test_bridge_settings"


def test_a_worker_job_sends_through_channels(world, connect, asgi_server, worker_factory):
    worker_factory(DJANGO_SETTINGS_MODULE=BRIDGE_SETTINGS)
    room = project_room(world.apollo.pk)
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe", {"room": room})["ok"] is True
    plain = RoomStreamClient(asgi_server.url, token=world.token(world.bob))
    try:
        plain.wait_type("welcome")
        plain.send({"type": "subscribe", "room": room})
        plain.wait_type("subscribed", room=room)
        db1 = redis.Redis.from_url(settings.REDIS_URL.rsplit("/", 1)[0] + "/1")  # test_bridge_settings' queue
        Queue("default", connection=db1, serializer=JSONSerializer).enqueue(
            "realtime.tests.test_bridge_support.send_through_channels",
            kwargs={"group": room_to_group(room), "event": "test_event", "data": {"n": 7}},
            job_timeout=30,
            retry=Retry(max=1),
        )
        got = bob.wait_for("test_event", lambda d: d["n"] == 7, timeout=30)
        assert got["_meta"]["room"] == room
        frame = plain.wait_for(lambda f: f["type"] == "event" and f["event"] == "test_event")
        assert frame["data"] == got
        assert len(bob.received("test_event")) == 1
    finally:
        plain.close()
