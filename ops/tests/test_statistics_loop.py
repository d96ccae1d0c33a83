"""The staff room receives statistics_update every few seconds, summed across server processes;
only staff may join it, and nobody else ever receives it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_sends_statistics_to_a_staff_client_and_never_to_others(world, staff, connect):
    ops = connect(world.token(staff))
    bob = connect(world.token(world.bob))
    ack = ops.call("subscribe", {"room": "staff"})
    assert ack["ok"] is True and ack["room"] == "staff"
    refused = bob.call("subscribe", {"room": "staff"})
    assert refused == {"ok": False, "code": "forbidden", "message": "not allowed to join staff"}
    assert bob.wait_for("error")["code"] == "forbidden"

    def sees_both(stats: dict) -> bool:
        online = {u for tenant in stats["presence"] for u in tenant["users"]}
        return {staff.username, world.bob.username} <= online

    stats = ops.wait_for("statistics_update", sees_both, timeout=20)
    assert stats["_meta"]["room"] == "staff"
    assert stats["connections"] >= 2 and stats["connections_by_namespace"]["/"] >= 2
    assert stats["processes"] and all(p["role"] == "server" for p in stats["processes"])
    assert any(r["room"] == "staff" and r["size"] >= 1 for r in stats["rooms"])
    assert "default" in {q["name"] for q in stats["queues"]}
    assert set(stats["jobs"]) == {"queued", "running", "success", "error"}
    acme = next(t for t in stats["presence"] if t["tenant_id"] == world.acme.pk)
    assert acme["tenant"] == world.acme.name
    status = ops.wait_for("status_update")
    assert status["monitoring_active"] is True and status["active_instances"] >= 1
    assert ops.wait_for("instances_update")["instances"]

    seq = stats["_meta"]["seq"]
    ops.wait_for("statistics_update", lambda d: d["_meta"]["seq"] > seq, timeout=20)  # it keeps coming
    for event in ("statistics_update", "status_update", "instances_update"):
        assert bob.received(event) == []


def test_it_sums_the_numbers_of_every_server_process(world, staff, connect, asgi_server):
    from testing.processes import start_server

    other = start_server()
    try:
        ops = connect(world.token(staff))
        ops.call("subscribe", {"room": "staff"})
        connect(world.token(world.bob), url=other.url, namespaces=["/", "/billing"])
        connect(world.token(world.charlie))

        def both_processes_seen(stats: dict) -> bool:
            online = {u for tenant in stats["presence"] for u in tenant["users"]}
            return len(stats["processes"]) >= 2 and {world.bob.username, world.charlie.username} <= online

        stats = ops.wait_for("statistics_update", both_processes_seen, timeout=20)
        per_process = [sum(p["connections"].values()) for p in stats["processes"]]
        assert stats["connections"] == sum(per_process)
        assert sum(1 for n in per_process if n > 0) >= 2  # clients on both servers are counted
        assert stats["connections_by_namespace"]["/billing"] >= 1
    finally:
        other.proc.stop()
