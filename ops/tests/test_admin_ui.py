"""The Socket.IO Admin UI (python-socketio's instrument()) is off by default and, when turned on,
only lets in the credentials from settings."""

from __future__ import annotations

import pytest
import socketio

from testing.processes import start_server

pytestmark = pytest.mark.django_db(transaction=True)

USER, PASSWORD = "admin-ui", "a-long-admin-ui-password"


def admin_connect(url: str, auth: dict) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=10)
    return client


def test_it_is_off_by_default(asgi_server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        admin_connect(asgi_server.url, {"username": USER, "password": PASSWORD})


def test_it_lets_in_only_the_configured_credentials(django_db_setup):
    server = start_server(SOCKETIO_ADMIN_ENABLED="1", SOCKETIO_ADMIN_USERNAME=USER, SOCKETIO_ADMIN_PASSWORD=PASSWORD)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            admin_connect(server.url, {"username": USER, "password": "wrong"})
        client = admin_connect(server.url, {"username": USER, "password": PASSWORD})
        assert "/admin" in client.connection_namespaces
        client.disconnect()
    finally:
        server.proc.stop()
