"""/metrics is scraped like Prometheus does it: with the bearer token (METRICS_TOKEN) or a staff
session; it has connections, emits by event, deliveries, replays, resyncs, rate limits and job
durations and outcomes."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from realtime.client import RealtimeClient
from realtime.emit import emit, user_room
from testing.processes import start_server
from testing.waits import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scrape-token-for-the-tests-0123456789"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    live = start_server(METRICS_TOKEN=TOKEN)
    yield live
    live.proc.stop()


def scrape(url: str, **kwargs) -> dict[str, list]:
    r = requests.get(f"{url}/metrics", timeout=10, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_it_is_scraped_with_the_token(world, staff, server, rq_worker):
    from jobs.services import enqueue_tracked

    client = RealtimeClient(server.url, token=world.token(world.bob))
    client.connect(namespaces=["/", "/notifications"])
    ops = RealtimeClient(server.url, token=world.token(staff))
    ops.connect()
    try:
        ops.wait_for("connection_status")
        ops.call("subscribe", {"room": "staff"})
        client.wait_for("connection_status", namespace="/notifications")
        record = enqueue_tracked(
            "jobs.tasks.demo_job", kind="metrics-demo", user=world.bob, kwargs={"steps": 2, "step_seconds": 0}
        )
        client.wait_for(
            "agent_status", lambda d: d["job_id"] == str(record.pk) and d["status"] == "success", timeout=30
        )
        emit("test_event", {"n": 1}, room=user_room(world.bob.pk))
        client.wait_for("test_event")
        # a returning client that says it saw more than the room has: resync_required
        client.call("subscribe", {"room": f"project:{world.apollo.pk}", "last_seq": 10**6, "epoch": "x"})
        client.wait_for("resync_required")
        # server processes publish their numbers every few seconds: wait until they include the above
        ops.wait_for(
            "statistics_update",
            lambda d: d["counters"].get("resyncs", 0) >= 1 and d["connections_by_namespace"].get("/notifications"),
            timeout=20,
        )

        metrics = scrape(server.url, headers={"Authorization": f"Bearer {TOKEN}"})
        conns = metrics["realtime_connections"]
        assert value(conns, "realtime_connections", namespace="/") >= 1
        assert value(conns, "realtime_connections", namespace="/notifications") >= 1
        assert value(metrics["realtime_emits"], "realtime_emits_total", event="test_event") >= 1
        assert value(metrics["realtime_deliveries"], "realtime_deliveries_total") >= 1
        assert value(metrics["realtime_resyncs"], "realtime_resyncs_total") >= 1
        for name in ("realtime_replayed_events", "realtime_rate_limited_events", "realtime_emit_failures"):
            assert name in metrics
        assert value(metrics["rq_workers"], "rq_workers", queue="default") >= 1
        assert value(metrics["jobs_records"], "jobs_records", kind="metrics-demo", status="success") == 1
        hist = metrics["jobs_duration_seconds"]
        assert value(hist, "jobs_duration_seconds_count", kind="metrics-demo", outcome="success") == 1
        assert value(hist, "jobs_duration_seconds_bucket", kind="metrics-demo", outcome="success", le="+Inf") == 1
    finally:
        client.disconnect()
        ops.disconnect()


def test_it_is_scraped_with_a_staff_session(staff, browser, server):
    metrics = scrape(server.url, cookies={"sessionid": browser(staff).cookies["sessionid"]})
    assert "realtime_events_per_second" in metrics


def test_it_refuses_without_the_token_or_staff(world, browser, server):
    assert requests.get(f"{server.url}/metrics", timeout=10).status_code == 401
    wrong = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 403
    assert browser(world.bob).get(f"{server.url}/metrics", timeout=10).status_code == 403


def totals(metrics: dict[str, list], family: str, sample: str) -> float:
    return value(metrics.get(family, []), sample)


def test_the_counters_move_when_real_clients_cause_them(world, staff, server):
    """Each counter is read before and after its cause, with real clients on a real server:
    emits by event, events replayed on a reconnect, resync_required, rate-limited events."""
    auth = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    ops = RealtimeClient(server.url, token=world.token(staff))
    bob = RealtimeClient(server.url, token=world.token(world.bob))
    flooder = RealtimeClient(server.url, token=world.token(world.charlie), reconnection=False)
    try:
        ops.connect()
        ops.wait_for("connection_status")
        assert ops.call("subscribe", {"room": "staff"})["ok"] is True
        bob.connect()
        bob.wait_for("connection_status")
        flooder.connect()
        flooder.wait_for("connection_status")
        before = scrape(server.url, **auth)

        # emits: counted in Redis per event name as they are published
        mine = user_room(world.bob.pk)
        for n in range(1, 8):
            emit("test_event", {"n": n}, room=mine)
        bob.wait_for("test_event", lambda d: d["n"] == 7)
        after_emits = scrape(server.url, **auth)
        emitted = value(after_emits["realtime_emits"], "realtime_emits_total", event="test_event") - value(
            before["realtime_emits"], "realtime_emits_total", event="test_event"
        )
        assert emitted == 7

        # replay: bob misses five events while away and gets them on reconnect
        bob.disconnect()
        bob.wait_until(lambda: bob.disconnects >= 1, what="bob disconnected")
        for n in range(8, 13):
            emit("test_event", {"n": n}, room=mine)
        bob.reconnect()
        bob.wait_for("test_event", lambda d: d["n"] == 12)
        assert [d["n"] for d in bob.received("test_event")] == list(range(1, 13))

        # resync: a position the room's log does not reach
        bob.call("subscribe", {"room": f"project:{world.apollo.pk}", "last_seq": 10**6, "epoch": "x"})
        bob.wait_for("resync_required")

        # rate limit: a burst far beyond SOCKETIO_RATE_LIMIT_BURST (but short of a disconnect)
        for n in range(120):
            flooder.emit("echo", {"n": n})
        flooder.wait_for("error", lambda e: e["code"] == "rate_limited")

        causes = {  # process counter -> (metric family, least it must have moved)
            "replayed": ("realtime_replayed_events", 5),
            "resyncs": ("realtime_resyncs", 1),
            "rate_limited": ("realtime_rate_limited_events", 1),
        }
        want = {key: totals(before, family, f"{family}_total") + n for key, (family, n) in causes.items()}
        # server processes publish their counters every few seconds: wait for numbers that have them
        ops.wait_for(
            "statistics_update",
            lambda d: all(d["counters"].get(k, 0) >= v for k, v in want.items()),
            timeout=30,
        )
        after = scrape(server.url, **auth)
        for family, at_least in causes.values():
            moved = totals(after, family, f"{family}_total") - totals(before, family, f"{family}_total")
            assert moved >= at_least, (family, moved)
    finally:
        for client in (ops, bob, flooder):
            client.disconnect()


def test_every_job_a_worker_runs_has_its_duration_and_outcome(server, rq_worker):
    """Jobs enqueued straight onto RQ (as billing, automation and provisioning do), not tracked:
    one succeeds after 0.6 s, one raises; /metrics has both, per function and outcome."""
    import django_rq

    auth = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    ok, bad = "ops.tests.support.succeed", "ops.tests.support.fail"
    before = scrape(server.url, **auth)

    def runs(metrics: dict[str, list], func: str, outcome: str) -> float:
        return value(metrics.get("rq_job_runs", []), "rq_job_runs_total", func=func, outcome=outcome)

    queue = django_rq.get_queue("default")
    queue.enqueue(ok, kwargs={"seconds": 0.6}, job_timeout=30)
    queue.enqueue(bad, kwargs={"message": "expected failure"}, job_timeout=30)
    want = {(ok, "success"): runs(before, ok, "success") + 1, (bad, "error"): runs(before, bad, "error") + 1}
    after: dict[str, list] = {}

    def counted() -> bool:
        after.update(scrape(server.url, **auth))
        return all(runs(after, func, outcome) >= n for (func, outcome), n in want.items())

    wait_until(counted, timeout=30, what="both jobs counted")
    assert runs(after, ok, "error") == runs(before, ok, "error")
    assert runs(after, bad, "success") == runs(before, bad, "success") == 0

    hist = after["rq_job_duration_seconds"]
    previous = before.get("rq_job_duration_seconds", [])

    def moved(sample: str, func: str, outcome: str, **labels: str) -> float:
        return value(hist, sample, func=func, outcome=outcome, **labels) - value(
            previous, sample, func=func, outcome=outcome, **labels
        )

    assert moved("rq_job_duration_seconds_count", ok, "success") == 1
    assert moved("rq_job_duration_seconds_bucket", ok, "success", le="0.5") == 0
    assert moved("rq_job_duration_seconds_bucket", ok, "success", le="1.0") == 1
    assert moved("rq_job_duration_seconds_bucket", ok, "success", le="+Inf") == 1
    assert 0.6 <= moved("rq_job_duration_seconds_sum", ok, "success") < 5
    assert moved("rq_job_duration_seconds_count", bad, "error") == 1
    assert moved("rq_job_duration_seconds_bucket", bad, "error", le="0.5") == 1


def test_it_shows_per_process_whether_the_fast_path_is_active(server):
    """Each server process reports whether it delivers through the fast path, and why not: in
    /metrics and in the statistics the ops page shows."""
    from ops import stats

    off = start_server(REALTIME_FASTPATH="0", OPS_PROCESS_INTERVAL_SECONDS="0.5")
    try:
        auth = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
        on_pid, off_pid = f":{server.proc.popen.pid}", f":{off.proc.popen.pid}"
        samples: list = []

        def both_reported() -> bool:
            samples[:] = scrape(server.url, **auth).get("realtime_fastpath_active", [])
            return {p for p in (on_pid, off_pid) if any(s.labels["process"].endswith(p) for s in samples)} == {
                on_pid,
                off_pid,
            }

        wait_until(both_reported, timeout=30, what="both server processes in /metrics")
        by_pid = {pid: s for s in samples for pid in (on_pid, off_pid) if s.labels["process"].endswith(pid)}
        assert (by_pid[on_pid].value, by_pid[on_pid].labels["reason"]) == (1, "")
        assert (by_pid[off_pid].value, by_pid[off_pid].labels["reason"]) == (0, "REALTIME_FASTPATH=0")

        shown = {p["process"].rsplit(":", 1)[1]: p["fastpath"] for p in stats.collect()["processes"]}
        assert shown[on_pid[1:]] == {"active": True, "reason": None}
        assert shown[off_pid[1:]] == {"active": False, "reason": "REALTIME_FASTPATH=0"}
    finally:
        off.proc.stop()
