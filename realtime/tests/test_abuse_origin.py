"""The Origin allowlist on both transports, and cross-site WebSocket hijacking: a page on a
foreign site that opens a socket to us with the victim's session cookie is refused."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = "http://evil.example"


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def test_it_refuses_a_polling_handshake_from_a_foreign_origin(asgi_server):
    url = asgi_server.url + "/socket.io/?EIO=4&transport=polling"
    refused = requests.get(url, headers={"Origin": EVIL}, timeout=5)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in {k.lower() for k in refused.headers}
    allowed = requests.get(url, headers={"Origin": asgi_server.url}, timeout=5)
    assert allowed.status_code == 200 and allowed.text.startswith("0{")
    assert allowed.headers["Access-Control-Allow-Origin"] == asgi_server.url


def test_it_refuses_a_websocket_handshake_from_a_foreign_origin(asgi_server):
    with pytest.raises((websocket.WebSocketBadStatusException, websocket.WebSocketConnectionClosedException)):
        ws = websocket.create_connection(ws_url(asgi_server), origin=EVIL, timeout=5)
        ws.recv()  # a server that accepted would send the Engine.IO OPEN packet here
    ws = websocket.create_connection(ws_url(asgi_server), origin=asgi_server.url, timeout=5)
    try:
        assert ws.recv().startswith("0{")
    finally:
        ws.close()


def test_it_refuses_cross_site_websocket_hijacking_with_a_session_cookie(world, asgi_server, session_cookie):
    cookie = f"sessionid={session_cookie(world.alice)}"
    with pytest.raises((websocket.WebSocketBadStatusException, websocket.WebSocketConnectionClosedException)):
        ws = websocket.create_connection(ws_url(asgi_server), origin=EVIL, cookie=cookie, timeout=5)
        ws.recv()
        ws.send("40")
        ws.recv()
    # the same cookie from our own origin is a logged-in connection
    ws = websocket.create_connection(ws_url(asgi_server), origin=asgi_server.url, cookie=cookie, timeout=5)
    try:
        assert ws.recv().startswith("0{")
        ws.send("40")
        assert ws.recv().startswith("40{")
        frames = [ws.recv() for _ in range(2)]
        connected = [json.loads(f[2:]) for f in frames if f.startswith('42["connected"')]
        assert connected and connected[0][1]["user_id"] == world.alice.pk
    finally:
        ws.close()


def test_it_refuses_a_python_client_that_sends_a_foreign_origin(world, asgi_server):
    from realtime.client import RealtimeClient

    client = RealtimeClient(
        asgi_server.url, token=world.token(world.alice), headers={"Origin": EVIL}, reconnection=False
    )
    import socketio

    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(wait_timeout=5)
