"""The throttle keeps the latest value, sends it when the interval ends, never throttles force."""

from __future__ import annotations

import threading
import time

from realtime.throttle import Throttle


class Recorder:
    def __init__(self) -> None:
        self.values: list = []
        self.times: list[float] = []
        self.cond = threading.Condition()

    def __call__(self, value) -> None:
        with self.cond:
            self.values.append(value)
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def wait_for_count(self, n: int, timeout: float = 5) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.values) >= n, timeout), self.values


def test_it_sends_the_first_value_at_once():
    rec = Recorder()
    throttle = Throttle(rec, 10)
    assert throttle.submit(1) is True
    assert rec.values == [1]


def test_it_keeps_only_the_latest_value_inside_the_interval_and_sends_it_when_the_interval_ends():
    rec = Recorder()
    throttle = Throttle(rec, 0.2)
    throttle.submit(1)
    for value in (2, 3, 4):
        assert throttle.submit(value) is False
    rec.wait_for_count(2)
    assert rec.values == [1, 4]
    assert rec.times[1] - rec.times[0] >= 0.19
    assert throttle.coalesced == 2


def test_force_sends_at_once_and_drops_the_superseded_pending_value():
    rec = Recorder()
    throttle = Throttle(rec, 30)
    throttle.submit("progress 10")
    throttle.submit("progress 50")
    throttle.submit("complete", force=True)
    assert rec.values == ["progress 10", "complete"]
    throttle.flush()
    assert rec.values == ["progress 10", "complete"]


def test_flush_sends_the_pending_value_now():
    rec = Recorder()
    throttle = Throttle(rec, 30)
    throttle.submit(1)
    throttle.submit(2)
    throttle.flush()
    assert rec.values == [1, 2]


def test_it_never_sends_more_often_than_the_interval_under_load():
    rec = Recorder()
    throttle = Throttle(rec, 0.05)
    deadline = time.monotonic() + 0.4
    i = 0
    while time.monotonic() < deadline:
        i += 1
        throttle.submit(i)
    throttle.flush()
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)][:-1]
    assert all(g >= 0.045 for g in gaps), gaps
    assert rec.values[-1] == i
    assert len(rec.values) <= 0.4 / 0.05 + 2
