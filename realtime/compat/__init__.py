"""Adaptations to other libraries' internals, and nothing else: python-socketio's manager and
server hooks (`redis_manager`, `socketio_server`), python-engineio's server, sockets and
WebSocket (`engine`), and the direct writer onto daphne/autobahn/Twisted (`fastpath`).

Every private name of another package that the product relies on is used in this package (the
upgrade-safety inventory points here); the rest of realtime/ calls what these modules define."""
