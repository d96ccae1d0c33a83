"""python-socketio's Redis manager, adapted at three points, each handing over to our code:

* `_handle_emit` (every emit message, from pub/sub or this process) -> the delivery pipeline
  (realtime.delivery.pipeline), which decides what reaches which connection;
* `_listen` (the pub/sub stream) -> subscription confirmations are seen, so that a
  re-subscription (Redis restarted, or dropped this subscriber) lets the pipeline catch up, and
  a burst is handed out a few messages per event-loop turn;
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

# Pub/sub messages handled per event-loop turn at most. A burst (emit_many(), or any emitter
# ahead of the server) arrives in one socket read, and redis-py hands out buffered messages
# without yielding: without a limit the loop delivered the whole burst before the fast path's
# once-per-turn writes sent anything, so the clients sat idle while the server worked and then
# the other way round. Yielding every few messages sends each connection's frames in groups
# while the rest of the burst is delivered (order is kept: one task reads and delivers them).
MESSAGES_PER_TURN = 16


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

    def _redis_connect(self) -> None:
        super()._redis_connect()
        # Subscription confirmations are wanted (see `_listen`).
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=False)

    async def _listen(self) -> AsyncIterator[Any]:
        """python-socketio's `_listen`, over its own `_redis_listen_with_retries` (which
        reconnects with back-off), plus the catch-up on each re-subscription. The subscription
        comes back two ways, both seen here as a new `subscribe` confirmation: redis-py's PubSub
        re-subscribes by itself, or python-socketio connects again. After the confirmation,
        every publish reaches this process."""
        channel = self.channel.encode()
        subscribed_before = False
        handled = 0
        async for message in self._redis_listen_with_retries():
            if message.get("type") == "subscribe":
                if subscribed_before:
                    await self.pipeline.resubscribed()
                subscribed_before = True
            elif message.get("type") == "message" and message.get("channel") == channel and "data" in message:
                yield message["data"]
                handled += 1
                if handled % MESSAGES_PER_TURN == 0:
                    await asyncio.sleep(0)  # let this turn's writes go out (see MESSAGES_PER_TURN)

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
