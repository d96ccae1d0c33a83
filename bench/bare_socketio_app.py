"""Stack (b): bare python-socketio (AsyncServer + AsyncRedisManager) as an ASGI app on uvicorn.

    uvicorn --app-dir bench bare_socketio_app:app --port 8001   (REDIS_URL in the environment)

Every client joins room "bench" on connect and gets `ready`."""

from __future__ import annotations

import os

import socketio

manager = socketio.AsyncRedisManager(os.environ["REDIS_URL"], channel="bench-socketio")
sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=None)
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid: str, environ: dict, auth: object = None) -> None:
    await sio.enter_room(sid, "bench")
    await sio.emit("ready", {}, to=sid)
