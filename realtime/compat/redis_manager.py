"""python-socketio's Redis manager, adapted at these points, each handing over to our code:

* `_handle_emit` (every emit message, from pub/sub or this process) -> the delivery pipeline
  (realtime.delivery.pipeline), which decides what reaches which connection;
* `_listen` (the pub/sub stream) -> the pipeline's subscriptions (realtime.delivery.subscriptions):
  the broadcast channel (SOCKETIO_CHANNEL) and the channel of every room with a local member,
  on one connection (one per shard on a Redis Cluster), reconnected after a failure; a room's
  re-subscription lets the pipeline catch it up, and a burst is handed out a few messages per
  event-loop turn;
* `enter_room` / `basic_leave_room` (every way into and out of a room) -> a room's first local
  member subscribes to its channel before entering, its last one unsubscribes;
* `connect` (python-socketio calls it once the client has its CONNECT packet) -> the
  connection's welcome can start (`when_connected`), with no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import socketio

from realtime import eventlog
from realtime.delivery.pipeline import DeliveryPipeline


class RealtimeManager(socketio.AsyncRedisManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline = DeliveryPipeline(self)
        self._on_connected: dict[tuple[str, str], asyncio.Future[None]] = {}

    # --- the pipeline's entry points ---------------------------------------------------------------

    async def _handle_emit(self, message: dict) -> None:
        await self.pipeline.receive(message)

    async def library_handle_emit(self, message: dict) -> None:
        """python-socketio's own handling of an emit message (callbacks across hosts, binary)."""
        await super()._handle_emit(message)

    async def _listen(self) -> AsyncIterator[Any]:
        """python-socketio's `_listen`: the data of every message on the broadcast channel and on
        the channels of the rooms with local members (delivery.subscriptions reconnects with
        back-off and catches a room up each time its subscription is confirmed again)."""
        async for message in self.pipeline.subscriptions.listen():
            if "data" in message:
                yield message["data"]

    # --- rooms: a room's first local member subscribes to its channel, its last one unsubscribes ---

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        async with self.pipeline.entering(sid, namespace, room):
            await super().enter_room(sid, namespace, room, eio_sid=eio_sid)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        # every way out of a room (leave_room, disconnect, close_room) comes through here
        super().basic_leave_room(sid, namespace, room)
        self.pipeline.left(sid, namespace, room)

    # --- connections -------------------------------------------------------------------------------

    async def connect(self, sid: str, namespace: str) -> Any:
        result = await super().connect(sid, namespace)
        waiter = self._on_connected.pop((sid, namespace), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return result

    def when_connected(self, sid: str, namespace: str) -> asyncio.Future[None]:
        """Done once python-socketio has sent the client its CONNECT (call it from the connect
        handler, which runs before). Cancel it if the connection ends first."""
        if self.is_connected(sid, namespace):
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future
        return self._on_connected.setdefault((sid, namespace), asyncio.get_running_loop().create_future())

    def forget_connected(self, sid: str, namespace: str) -> None:
        waiter = self._on_connected.pop((sid, namespace), None)
        if waiter is not None:
            waiter.cancel()

    async def send_to_sid(self, sid: str, namespace: str, event: str, data: Any) -> None:
        await self.emit(event, data, namespace=namespace, room=sid, ignore_queue=True)

    async def join(
        self,
        sid: str,
        namespace: str,
        room: str,
        *,
        since: int | None = None,
        epoch: str | None = None,
        log_namespace: str | None = None,
    ) -> eventlog.Position:
        return await self.pipeline.join(
            sid, namespace, room, since=since, epoch=epoch, log_namespace=log_namespace or namespace
        )

    async def join_many(
        self, sid: str, namespace: str, rooms: list[tuple[str, int | None, str | None]], *, log_namespace: str
    ) -> list[eventlog.Position]:
        return await self.pipeline.join_many(sid, namespace, rooms, log_namespace)
