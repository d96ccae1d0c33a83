"""python-engineio's AsyncServer, with one fix: a long-polling POST it refuses no longer hangs.

When a POST's payload is refused (larger than `max_http_buffer_size`, or not a valid Engine.IO
payload), python-engineio (4.x) disconnects the session before it answers the POST, and its
disconnect closes the socket with `wait=True`: it waits until the client has fetched the CLOSE
packet with a GET. A long-polling client sends its next GET only once the POST is answered, so
both wait until the ping timeout ends the session (about 20 s; seen in the fuzz test), and the
client gets no answer at all. Here a disconnect made while answering a POST does not wait: the
POST gets its 400 at once, the CLOSE is left queued (an open GET takes it), and the session is
gone, so the client's next request is told so and it reconnects."""

from __future__ import annotations

import contextvars
from typing import Any

import engineio

_answering_post: contextvars.ContextVar[bool] = contextvars.ContextVar("engineio_answering_post", default=False)


class RealtimeEngineServer(engineio.AsyncServer):
    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        scope = args[0] if args and isinstance(args[0], dict) else {}
        token = _answering_post.set(scope.get("type") == "http" and scope.get("method") == "POST")
        try:
            return await super().handle_request(*args, **kwargs)
        finally:
            _answering_post.reset(token)

    async def disconnect(self, sid: str | None = None) -> None:
        if sid is not None and _answering_post.get():
            socket = self.sockets.get(sid)
            if socket is not None:
                await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
                self.sockets.pop(sid, None)
                return
        await super().disconnect(sid)
