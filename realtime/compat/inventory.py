"""What realtime/ relies on inside python-socketio, python-engineio, daphne, autobahn, Twisted,
channels and channels_redis: one `Item` per internal (realtime/compat/internals.py), each with its check
against the installed version. tests/test_internals.py runs the checks and holds the code to this
list; docs/internals.md is rendered from it (`make docs`). Items marked `fastpath=True` are checked
again when a server process starts: a failure turns the fast path off (realtime.compat.guard).

To add one: an `Item(...)` below (library as pinned in requirements.txt, the dotted name, how it
is used, the files that use it, why, what breaks, a check from realtime.compat.internals' helpers)."""

from __future__ import annotations

import engineio
import socketio
from engineio.async_socket import AsyncSocket

from realtime.compat.internals import Drift, Item, attribute, method, on_instance, resolve, source_has

SIO = "python-socketio"
EIO = "python-engineio"
MANAGER = "realtime/compat/redis_manager.py"
SERVER = "realtime/compat/socketio_server.py"
ENGINE = "realtime/compat/engine.py"
FASTPATH = "realtime/compat/fastpath.py"
IDLE = "realtime/compat/idle.py"
DAPHNE = "realtime/compat/daphne_protocol.py"
BACKPRESSURE = "realtime/compat/backpressure.py"


def _asgi_engine() -> engineio.AsyncServer:
    return engineio.AsyncServer(async_mode="asgi")


def _engine_drivers() -> None:
    drivers = _asgi_engine()._async
    if not isinstance(drivers, dict) or "websocket" not in drivers:
        raise Drift("engineio.AsyncServer._async is not a dict with a 'websocket' class")
    source_has("engineio.async_socket.AsyncSocket._upgrade_websocket", "self.server._async['websocket']")


def _engine_socket() -> None:
    for name, params in (
        ("poll", ["self"]),
        ("handle_post_request", ["self", "environ"]),
        ("receive", ["self", "pkt"]),
    ):
        method(f"engineio.async_socket.AsyncSocket.{name}", params, coroutine=True)
    on_instance(lambda: AsyncSocket(_asgi_engine(), "sid"), "queue", "upgraded", "upgrading", "closed", "server")
    if set(vars(AsyncSocket)) & {"__slots__"}:
        raise Drift("engineio.async_socket.AsyncSocket has __slots__: its class can no longer be swapped")


def _packet_names() -> None:
    if resolve("engineio.packet.packet_names")[:7] != ["OPEN", "CLOSE", "PING", "PONG", "MESSAGE", "UPGRADE", "NOOP"]:
        raise Drift("engineio.packet.packet_names no longer starts with the 7 Engine.IO v4 packet types")


def _twisted_buffers() -> None:
    for name in ("dataBuffer", "offset", "_tempDataLen", "connected", "disconnecting", "TLS", "socket"):
        attribute("twisted.internet.tcp.Connection", name)
    source_has("twisted.internet.abstract.FileDescriptor.write", "self._tempDataLen")
    source_has("twisted.internet.abstract.FileDescriptor.doWrite", "self.dataBuffer", "self.offset", "_tempDataLen")


def _channels_redis_hosts() -> None:
    from channels_redis.core import RedisChannelLayer

    on_instance(RedisChannelLayer, "hosts", "brpop_timeout")
    layer = RedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1"}])
    if not isinstance(layer.hosts, list) or not isinstance(layer.hosts[0], dict):
        raise Drift("channels_redis.core.RedisChannelLayer.hosts is no longer a list of dicts")
    source_has("channels_redis.core.RedisChannelLayer.create_pool", "self.hosts[index]")


ITEMS = [
    # --- python-socketio: the manager (realtime/compat/redis_manager.py) --------------------------
    Item(
        SIO,
        "socketio.AsyncRedisManager._handle_emit",
        "overrides",
        (MANAGER,),
        "Every emit message (from pub/sub or this process) goes to the delivery pipeline (continuity, "
        "hold-back joins, aliases, the fast path); `library_handle_emit` calls python-socketio's own.",
        "Renamed: events are delivered by python-socketio's own code, without sequence continuity or the "
        "fast path (the realtime suite fails). New parameters: TypeError on every event.",
        lambda: (
            method("socketio.AsyncRedisManager._handle_emit", ["self", "message"], coroutine=True),
            source_has("socketio.async_pubsub_manager.AsyncPubSubManager._thread", "await self._handle_emit(data)"),
        ),
    ),
    Item(
        SIO,
        "socketio.AsyncRedisManager._listen",
        "overrides",
        (MANAGER,),
        "The pub/sub stream, read from realtime.delivery.subscriptions: the broadcast channel and the "
        "channels of the rooms with local members (per-room channels, issue 11), re-subscriptions "
        "seen (catch-up), yielding to the loop every few messages.",
        "Renamed: python-socketio's own listener runs instead: it hears only the broadcast channel, so no "
        "room event reaches this process's clients (the realtime suite fails).",
        lambda: (
            method("socketio.AsyncRedisManager._listen", ["self"], asyncgen=True),
            source_has(
                "socketio.async_pubsub_manager.AsyncPubSubManager._thread", "async for message in self._listen()"
            ),
        ),
    ),
    Item(
        SIO,
        "socketio.AsyncManager.emit",
        "calls",
        (FASTPATH,),
        "Called unbound on the Redis manager: python-socketio's local delivery without publishing again "
        "(REALTIME_FASTPATH=0, binary events).",
        "A changed signature: TypeError on the library path (the suite's REALTIME_FASTPATH=0 run fails).",
        lambda: method(
            "socketio.AsyncManager.emit", ["self", "event", "data", "namespace", "room", "skip_sid"], coroutine=True
        ),
        uses=("AsyncManager",),
    ),
    Item(
        SIO,
        "socketio.base_manager.BaseManager.rooms",
        "reads",
        (FASTPATH, "ops/process_stats.py"),
        "The manager's rooms (namespace -> room -> sid -> eio_sid): the fast path's 'namespace has "
        "clients' test, the ops numbers per process.",
        "KeyError/AttributeError: the fast path errors on every event, ops shows no connections.",
        lambda: (
            on_instance(socketio.AsyncManager, "rooms"),
            method("socketio.base_manager.BaseManager.get_participants", ["self", "namespace", "room"]),
        ),
        fastpath=True,
    ),
    # --- python-socketio: the server (realtime/compat/socketio_server.py) -------------------------
    Item(
        SIO,
        "socketio.AsyncServer._engineio_server_class",
        "overrides",
        (SERVER,),
        "Gives python-socketio our Engine.IO server (validation, and the fast path's sockets).",
        "Renamed: python-engineio's own server is used: no fast path, undecodable packets end in tracebacks.",
        lambda: (
            method("socketio.AsyncServer._engineio_server_class", ["self"], coroutine=False),
            source_has("socketio.base_server.BaseServer.__init__", "self._engineio_server_class()"),
        ),
        fastpath=True,
    ),
    Item(
        SIO,
        "socketio.AsyncServer._handle_eio_message",
        "overrides",
        (SERVER,),
        "A packet that does not decode gets an `error` event with a code instead of a traceback.",
        "Renamed: bad packets end in tracebacks and silence (test_fuzz_packets fails).",
        lambda: method("socketio.AsyncServer._handle_eio_message", ["self", "eio_sid", "data"], coroutine=True),
    ),
    Item(
        SIO,
        "socketio.AsyncServer._handle_event",
        "overrides",
        (SERVER,),
        "Refuses reserved or non-string event names with an `error` event (and an ack answer).",
        "Renamed: a client can fire 'connect'/'disconnect' handlers as events (test_fuzz_packets fails).",
        lambda: method(
            "socketio.AsyncServer._handle_event", ["self", "eio_sid", "namespace", "id", "data"], coroutine=True
        ),
    ),
    Item(
        SIO,
        "socketio.AsyncServer._send_packet",
        "calls",
        (SERVER,),
        "Answers a refused event's ack with an error object (the client's call() does not wait for its timeout).",
        "AttributeError while refusing an event (test_refused_acks fails).",
        lambda: method("socketio.AsyncServer._send_packet", ["self", "eio_sid", "pkt"], coroutine=True),
    ),
    Item(
        SIO,
        "socketio.AsyncServer._binary_packet",
        "writes",
        (SERVER,),
        "Drops a half-received binary packet when its attachment is refused.",
        "AttributeError on a bad attachment; or the next packets are taken for attachments.",
        lambda: (
            on_instance(socketio.AsyncServer, "_binary_packet"),
            source_has("socketio.AsyncServer._handle_eio_message", "self._binary_packet"),
        ),
    ),
    # --- python-engineio (realtime/compat/engine.py, fastpath.py) ----------------------------------
    Item(
        EIO,
        "engineio.AsyncServer._async",
        "writes",
        (ENGINE,),
        "The async driver table: its 'websocket' entry becomes our ValidatingWebSocket, or FastWebSocket "
        "(`use_websocket_class`).",
        "Gone: the server keeps python-engineio's WebSocket class, with one warning at start (no frame "
        "validation, no direct writer: correct, slower); the fast path's guard turns it off. No longer read "
        "for the WebSocket class: the same without the warning.",
        _engine_drivers,
        fastpath=True,
    ),
    Item(
        EIO,
        "engineio.AsyncServer._make_response",
        "calls",
        (ENGINE,),
        "Answers a refused JSONP or a POST to a closed session with python-engineio's own response (CORS).",
        "AttributeError: those requests get a 500 (test_polling_transport fails).",
        lambda: method("engineio.AsyncServer._make_response", ["self", "response_dict", "environ"], coroutine=True),
    ),
    Item(
        EIO,
        "engineio.AsyncServer._bad_request",
        "calls",
        (ENGINE,),
        "The 400 response a POST to a closed session gets.",
        "AttributeError: a 500 instead of a 400 (test_polling_transport fails).",
        lambda: method("engineio.AsyncServer._bad_request", ["self", "message"], coroutine=False),
    ),
    Item(
        EIO,
        "engineio.async_drivers.asgi.WebSocket",
        "subclasses",
        (ENGINE,),
        "python-engineio's ASGI WebSocket (not exported): ValidatingWebSocket checks each frame, "
        "FastWebSocket (over ValidatingWebSocket) attaches the direct writer. Relies on `handler`, `__call__(environ)`, `wait`, `send`, `close`.",
        "Renamed: import error at start. Changed methods: frames not validated, or the writer not attached.",
        lambda: [
            method("engineio.async_drivers.asgi.WebSocket.__init__", ["self", "handler", "server"]),
            method("engineio.async_drivers.asgi.WebSocket.__call__", ["self", "environ"], coroutine=True),
            method("engineio.async_drivers.asgi.WebSocket.wait", ["self"], coroutine=True),
            method("engineio.async_drivers.asgi.WebSocket.send", ["self", "message"], coroutine=True),
            method("engineio.async_drivers.asgi.WebSocket.close", ["self"], coroutine=True),
            source_has("engineio.async_drivers.asgi.WebSocket.__init__", "self.handler = handler"),
        ],
        fastpath=True,
        uses=("WebSocket",),
    ),
    Item(
        EIO,
        "engineio.async_socket.AsyncSocket",
        "replaces",
        (ENGINE, FASTPATH),
        "Live sockets get our class (`__class__` = PollingSocket/FastSocket: poll without a task per wake-up, "
        "POST bodies validated); the fast path reads `queue`, `upgraded`, `upgrading`, `closed`.",
        "A socket with new state or __slots__: the class swap fails; renamed fields: the fast path errors.",
        _engine_socket,
        fastpath=True,
        uses=("AsyncSocket", "upgraded", "upgrading"),
    ),
    Item(
        EIO,
        "engineio.AsyncServer.sockets",
        "reads",
        (FASTPATH, ENGINE),
        "eio_sid -> socket: the fast path delivers to each recipient's socket directly.",
        "AttributeError: every fast-path delivery fails.",
        lambda: on_instance(_asgi_engine, "sockets"),
        fastpath=True,
        uses=("sockets",),
    ),
    Item(
        EIO,
        "engineio.payload.Payload.max_decode_packets",
        "overrides",
        (ENGINE,),
        "Lifts the 16-packet limit on a long-polling POST (socket.io-client sends more in a burst).",
        "Renamed: bursts over 16 packets are refused again (test_polling_transport fails).",
        lambda: (
            attribute("engineio.payload.Payload", "max_decode_packets"),
            source_has("engineio.payload.Payload.decode", "self.max_decode_packets"),
        ),
    ),
    Item(
        EIO,
        "engineio.packet.packet_names",
        "reads",
        (ENGINE,),
        "The number of Engine.IO packet types, to refuse an unknown type before python-engineio's table lookup.",
        "A new packet type is refused as unknown.",
        _packet_names,
    ),
    # --- daphne, channels, autobahn, Twisted: the direct writer (fastpath.py) ---------------------
    Item(
        "daphne",
        "daphne.server.Server.create_application",
        "replaces",
        (FASTPATH, DAPHNE),
        "The ASGI `send` daphne gives an application is `partial(self.handle_reply, protocol)`: the "
        "direct writer finds autobahn's protocol in the partial's arguments. daphne_protocol.py replaces "
        "the method by a copy of daphne 4.2.3's that gives the application a LeanQueue for its input.",
        "Another send callable: no direct writer (frames go through ASGI: correct, slower). A daphne whose "
        "create_application does more loses it under our copy: compare on every daphne upgrade.",
        lambda: (
            source_has("daphne.server.Server.create_application", "send=partial(self.handle_reply, protocol)"),
            source_has("daphne.server.Server.create_application", "input_queue = asyncio.Queue()"),
        ),
        fastpath=True,
        uses=("partial",),
    ),
    Item(
        "channels",
        "channels.sessions.InstanceSessionWrapper.real_send",
        "reads",
        (BACKPRESSURE,),
        "Channels' session middleware wraps daphne's send; the writer unwraps it through `real_send`.",
        "Renamed: no direct writer (frames go through ASGI: correct, slower).",
        lambda: (
            attribute("channels.sessions.InstanceSessionWrapper", "real_send"),
            source_has("channels.sessions.InstanceSessionWrapper.send", "self.real_send(message)"),
        ),
        fastpath=True,
    ),
    Item(
        "autobahn",
        "autobahn.websocket.protocol.WebSocketProtocol._perMessageCompress",
        "reads",
        (FASTPATH,),
        "The writer writes a prepared frame only when no compression was negotiated, as sendPreparedMessage does.",
        "Renamed: AttributeError in the writer, or (worse) compressed connections given uncompressed frames "
        "if the meaning changes.",
        lambda: (
            attribute("autobahn.websocket.protocol.WebSocketProtocol", "_perMessageCompress"),
            source_has(
                "autobahn.websocket.protocol.WebSocketProtocol.sendPreparedMessage",
                "self._perMessageCompress is None",
                "self.sendData(preparedMsg.payloadHybi)",
            ),
        ),
        fastpath=True,
    ),
    Item(
        "autobahn",
        "autobahn.websocket.protocol.WebSocketProtocol.send_queue",
        "reads",
        (FASTPATH, BACKPRESSURE),
        "Frames autobahn still holds: the writer steps aside (ASGI path) while there are any, to keep order.",
        "Renamed: AttributeError in the writer; if no longer used for queued frames, frames out of order.",
        lambda: (
            attribute("autobahn.websocket.protocol.WebSocketProtocol", "send_queue"),
            source_has("autobahn.websocket.protocol.WebSocketProtocol.sendData", "self.send_queue"),
        ),
        fastpath=True,
    ),
    Item(
        "autobahn",
        "autobahn.websocket.protocol.WebSocketProtocol.STATE_OPEN",
        "reads",
        (FASTPATH, BACKPRESSURE),
        "The writer writes only to an open connection (`state == STATE_OPEN`); `sendPreparedMessage` "
        "marks autobahn's protocol behind daphne's send.",
        "Renamed: AttributeError in the writer (no fast path).",
        lambda: (
            attribute("autobahn.websocket.protocol.WebSocketProtocol", "STATE_OPEN"),
            attribute("autobahn.websocket.protocol.WebSocketProtocol", "state"),
            method("autobahn.websocket.protocol.WebSocketProtocol.sendPreparedMessage", ["self", "preparedMsg"]),
        ),
        fastpath=True,
        uses=("STATE_OPEN", "sendPreparedMessage"),
    ),
    Item(
        "Twisted",
        "twisted.internet.abstract.FileDescriptor._tempDataLen",
        "reads",
        (FASTPATH, BACKPRESSURE),
        "The writer calls socket.send() itself only when Twisted holds nothing for the connection "
        "(`_tempDataLen`, `dataBuffer`/`offset`), else hands over to transport.write, keeping the order; "
        "plain TCP only (`socket`, not `TLS`), open (`connected`, not `disconnecting`).",
        "Renamed fields: the writer falls back to transport.write (slower); changed meaning: frames out of "
        "order, which test_fastpath's ordering tests catch.",
        _twisted_buffers,
        fastpath=True,
        uses=("_tempDataLen", "dataBuffer", "offset", "disconnecting", "TLS"),
    ),
    # --- channels_redis (realtime/bridge.py) --------------------------------------------------------
    Item(
        "channels_redis",
        "channels_redis.core.RedisChannelLayer.hosts",
        "writes",
        ("realtime/bridge.py",),
        "RealtimeChannelLayer gives each host entry a socket timeout above the layer's blocking read "
        "(`brpop_timeout`), so idle /ws/rooms/ consumers are not closed by a Redis timeout.",
        "Renamed: idle consumers die after 5 s again (test_bridge_idle fails).",
        _channels_redis_hosts,
        uses=("hosts", "brpop_timeout"),
    ),
    # --- connection cost (realtime/compat/idle.py, daphne_protocol.py: issue 16) ------------------
    Item(
        EIO,
        "engineio.async_socket.AsyncSocket._send_ping",
        "replaces",
        (IDLE,),
        "A socket's ping task: the server's start_background_task recognises it and one task per "
        "process pings every socket on time instead (an idle connection holds no task of its own).",
        "Renamed or changed: the recognition fails and each socket keeps its own ping task (correct, "
        "more memory per idle connection); new semantics: pings may stop (test_engineio_pings fails).",
        lambda: (
            method("engineio.async_socket.AsyncSocket._send_ping", ["self"], coroutine=True),
            source_has("engineio.async_socket.AsyncSocket.schedule_ping", "start_background_task(self._send_ping)"),
        ),
    ),
    Item(
        EIO,
        "engineio.async_drivers.asgi.translate_request",
        "replaces",
        (ENGINE, IDLE),
        "The ASGI driver table's `translate_request` is replaced by one that makes no class per request "
        "(the kept environ of an idle connection holds less).",
        "No such table or entry: python-engineio's own translate_request is used (more memory per connection).",
        lambda: source_has("engineio.async_drivers.asgi.translate_request", "class AwaitablePayload"),
        uses=("translate_request",),
    ),
    Item(
        "daphne",
        "daphne.ws_protocol.WebSocketProtocol.handle_reply",
        "overrides",
        (DAPHNE,),
        "A WebSocket the application closes before accepting with the shed code gets HTTP 503 "
        "(daphne's serverReject gives 403), through the protocol's `handshake_deferred`.",
        "Changed: a shed WebSocket open is refused with 403 (clients treat it as fatal, not retryable).",
        lambda: source_has("daphne.ws_protocol.WebSocketProtocol.serverReject", "self.handshake_deferred.errback"),
        uses=("handle_reply", "handshake_deferred"),
    ),
    Item(
        "autobahn",
        "autobahn.websocket.protocol.pformat",
        "replaces",
        (DAPHNE,),
        "autobahn formats its protocol options for a debug line on every connection; the module's "
        "`pformat` is replaced by a lazy one (the text is made only if the line is written).",
        "Renamed: each connection pays for the formatting again (CPU per handshake), nothing else.",
        lambda: resolve("autobahn.websocket.protocol.pformat"),
        uses=("pformat",),
    ),
]
