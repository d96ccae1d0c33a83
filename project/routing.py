"""WebSocket routes for plain Channels consumers (clients that do not speak Socket.IO).

project/asgi.py serves them behind Channels' AuthMiddlewareStack (session users are known)."""

from django.urls import path

from realtime.protocols.rooms_websocket import RoomStreamConsumer

websocket_urlpatterns: list = [
    path("ws/rooms/", RoomStreamConsumer.as_asgi()),
]
