"""Stack (d): Flask-SocketIO in threading mode, as seed 003 runs it (Werkzeug server,
simple-websocket), with a Redis message queue so a separate process can emit.

    python bench/flask_threading_app.py PORT REDIS_URL"""

from __future__ import annotations

import sys

from flask import Flask
from flask_socketio import SocketIO, emit, join_room

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading", message_queue=sys.argv[2], channel="bench-flask")


@socketio.on("connect")
def on_connect(auth: object = None) -> None:
    join_room("bench")
    emit("ready", {})


if __name__ == "__main__":
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]), allow_unsafe_werkzeug=True, log_output=False)
