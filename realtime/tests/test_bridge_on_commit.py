"""`group_send_on_commit()` from a Django view inside `transaction.atomic`: the event reaches the
room's Socket.IO clients and Channels consumers after the commit, and never when the transaction
rolls back (it takes no sequence number either)."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client, override_settings

from accounts.models import Tenant
from realtime.bridge import room_to_group
from realtime.emit import user_room
from realtime.tests.test_bridge_support import room_head

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/test-only/bridge/send-in-a-transaction"


@override_settings(ROOT_URLCONF="realtime.tests.bridge_urls")
@pytest.mark.filterwarnings("ignore:No directory at")  # whitenoise: no collectstatic in tests
def test_it_is_delivered_after_commit_and_never_on_rollback(world, connect):
    room = user_room(world.bob.pk)
    bob = connect(world.token(world.bob))
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(room_to_group(room), channel)
    http = Client()
    before = room_head(room)
    rolled_back, committed = (f"bridge-{uuid.uuid4().hex[:10]}" for _ in range(2))

    r = http.post(URL, {"room": room, "n": 1, "slug": rolled_back, "rollback": True}, content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json() == {"committed": False, "seq_inside": before}
    assert room_head(room) == before  # nothing was published, no sequence number taken

    r = http.post(URL, {"room": room, "n": 2, "slug": committed}, content_type="application/json")
    assert r.status_code == 200, r.content
    # not sent while the transaction was open; sent by the commit
    assert r.json() == {"committed": True, "seq_inside": before, "seq_after": before + 1}

    got = bob.wait_for("test_event", lambda d: d["n"] == 2)
    assert got["_meta"]["seq"] == before + 1
    assert [d["n"] for d in bob.received("test_event")] == [2]  # the rolled-back one never came
    received = async_to_sync(layer.receive)(channel)  # first in the channel: the rolled-back one was never sent
    assert (received["data"]["n"], received["data"]["_meta"]["seq"]) == (2, before + 1)
    assert Tenant.objects.filter(slug=committed).exists()
    assert not Tenant.objects.filter(slug=rolled_back).exists()
