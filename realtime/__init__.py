"""The realtime layer: the only package that talks Socket.IO. Domain apps call `realtime.emit`.

Where things happen, layer by layer:

* what apps call (this package's top level): `emit` (publish, through `eventlog`'s Lua script:
  sequence number, replay log, pub/sub), `rooms` and `handlers` (registries apps fill),
  `contract` (the event contract), `bridge` (Channels' group_send), `client` (a Python client);
* `protocols/`: the client-facing protocols, thin adapters: `socketio_namespace` (Socket.IO) and
  `rooms_websocket` (the plain `/ws/rooms/` WebSocket);
* `sessions`: the one session service under both protocols: a connection is authenticated
  (`auth`, `caps`) and authorized (`rooms`) here, its replay, rate limit and expiry live here;
* `delivery/`: a room event received from Redis is continued (`continuity`), held back for joins
  in progress (`joins`) and delivered (`pipeline`);
* `compat/`: every adaptation to another library's internals (python-socketio's manager and
  server, python-engineio, the direct writer onto daphne/autobahn/Twisted);
* `server`: assembles the Socket.IO server from these; `serve`: `python -m realtime.serve`.
"""
