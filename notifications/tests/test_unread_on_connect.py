"""A seed 004 client that was offline gets what it missed just by connecting: with no replay
positions, the user's newest unread notifications (at most 50) come as `notification:new`,
oldest first, before `connected`. With positions the replay covers the gap, and nothing comes
twice. The clients here are plain python-socketio clients that only connect and listen."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import socketio

from notifications.models import Notification
from notifications.services import CONNECT_BACKLOG_LIMIT, notify
from realtime.emit import user_room

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/ws/notifications"  # io('<host>/ws/notifications', {path: '/socket.io', auth: {token}})


class Seed004Client:
    """Listens for `notification:new` and `connected`; sends nothing but its handshake."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.Client(reconnection=False)
        self.notifications: list[dict[str, Any]] = []
        self.connected: dict[str, Any] | None = None
        self._welcomed = threading.Event()
        self._arrived = threading.Condition()
        self.sio.on("notification:new", self._on_notification, namespace=NS)
        self.sio.on("connected", self._on_connected, namespace=NS)

    def _on_notification(self, data: dict[str, Any]) -> None:
        with self._arrived:
            self.notifications.append(data)
            self._arrived.notify_all()

    def ids_up_to_marker(self, user_id: int) -> list[int]:
        """The ids received once a marker notification sent now has arrived (marker excluded):
        whatever else was still on its way (a duplicate, say) has arrived by then too."""
        marker = notify(user_id=user_id, title="marker", message="flush")
        with self._arrived:
            assert self._arrived.wait_for(lambda: any(n["id"] == marker.pk for n in self.notifications), 10)
            return [n["id"] for n in self.notifications if n["id"] != marker.pk]

    def _on_connected(self, data: dict[str, Any]) -> None:
        self.connected = data
        self._welcomed.set()

    def connect(self, auth: dict[str, Any]) -> Seed004Client:
        self.sio.connect(self.url, namespaces=[NS], auth=auth, wait_timeout=10)
        assert self._welcomed.wait(timeout=10), "no `connected` within 10 s"
        return self

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def seed_004_client(asgi_server):
    clients: list[Seed004Client] = []

    def make(auth: dict[str, Any]) -> Seed004Client:
        client = Seed004Client(asgi_server.url)
        clients.append(client)
        return client.connect(auth)

    yield make
    for client in clients:
        client.close()


def test_a_client_that_only_connects_gets_its_unread_notifications(world, seed_004_client):
    first = notify(user_id=world.alice.pk, title="One", message="sent while away")
    read = notify(user_id=world.alice.pk, title="Read", message="already seen over HTTP")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    second = notify(user_id=world.alice.pk, title="Two", message="also sent while away")
    notify(user_id=world.bob.pk, title="Bob's", message="not alice's")
    alice = seed_004_client({"token": world.token(world.alice)})
    assert [n["id"] for n in alice.notifications] == [first.pk, second.pk]  # before `connected`
    assert alice.notifications[0] == first.as_event()
    assert alice.ids_up_to_marker(world.alice.pk) == [first.pk, second.pk]  # and nothing twice


def test_it_pushes_the_newest_unread_ones_only(world, seed_004_client):
    Notification.objects.bulk_create(
        Notification(user=world.alice, title=f"n{i}", message="m") for i in range(CONNECT_BACKLOG_LIMIT + 5)
    )
    alice = seed_004_client({"token": world.token(world.alice)})
    assert [n["title"] for n in alice.notifications] == [f"n{i}" for i in range(5, CONNECT_BACKLOG_LIMIT + 5)]


def test_with_replay_positions_the_replay_covers_it_and_nothing_comes_twice(world, seed_004_client):
    before = notify(user_id=world.alice.pk, title="Before", message="unread, pushed on the first connect")
    first = seed_004_client({"token": world.token(world.alice)})
    assert [n["id"] for n in first.notifications] == [before.pk]
    positions = first.connected["positions"]
    assert user_room(world.alice.pk) in positions
    first.close()
    during = notify(user_id=world.alice.pk, title="During", message="sent while disconnected")
    again = seed_004_client({"token": world.token(world.alice), "last_seen": positions})
    assert [n["id"] for n in again.notifications] == [during.pk]  # replayed; "Before" not again
    assert again.ids_up_to_marker(world.alice.pk) == [during.pk]  # nor later
