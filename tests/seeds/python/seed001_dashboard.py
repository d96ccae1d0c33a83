"""Seed 001's monitoring dashboard as a Python service would write it, on plain python-socketio:
it listens for `statistics_update` (and the loop's `status_update` and `instances_update`) and
reads the seed's fields. Placeholders filled: the server and a staff JWT (argv). The one step
the seed does not have is documented: statistics go to the `staff` room, joined with
`subscribe` (docs/ops.md). It reports each update as a JSON line, and ends once it has the
product's statistics with the seed's fields and the application's own statistics_update."""

from __future__ import annotations

import json
import sys
import threading

import socketio

server, token = sys.argv[1], sys.argv[2]
sio = socketio.Client(reconnection=False)
seen = {"product": False, "own": False, "status": False, "instances": False}
done = threading.Event()


def report(line: dict) -> None:
    print(json.dumps(line), flush=True)


@sio.on("connect")
def on_connect() -> None:
    print("🔌 Connected to CloudVoter server", flush=True)


@sio.on("statistics_update")
def on_statistics(stats: dict) -> None:
    print(f"[STATS] Socket.IO update received: {stats.get('total_attempts')}", flush=True)
    fields = {
        "Total Attempts": stats["total_attempts"],
        "Successful Votes": stats["successful_votes"],
        "Failed Votes": stats["failed_votes"],
        "Active Instances": stats["active_instances"],
    }
    own = "connections" not in stats  # the application's own dictionary, not the product's numbers
    report({"event": "statistics_update", "own": own, "fields": fields, "room": stats["_meta"]["room"]})
    seen["own" if own else "product"] = True
    if all(seen.values()):
        done.set()


@sio.on("status_update")
def on_status(data: dict) -> None:
    report({"event": "status_update", "data": data})
    seen["status"] = True


@sio.on("instances_update")
def on_instances(data: dict) -> None:
    report({"event": "instances_update", "count": len(data["instances"])})
    seen["instances"] = True


sio.connect(server, auth={"token": token}, transports=["websocket"])
ack = sio.call("subscribe", {"room": "staff"})
report({"subscribed": ack["ok"]})
done.wait(30)
sio.disconnect()
sys.exit(0 if done.is_set() else 1)
