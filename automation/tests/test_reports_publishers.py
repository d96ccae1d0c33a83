"""Reports are deterministic (the same ticker gives the same report, in any process), and the
publisher interface dispatches on the profile's kind: registering a second kind is all a
WordPress publisher would need."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from automation import jobs, publishers, services
from automation.models import AutomationRun, Publication, PublishingProfile
from automation.prices import NoPriceData
from automation.publishers import Published, PublishError, publisher_for
from automation.reports import generate_report
from testing import BASE_DIR


def report_in_a_fresh_process(ticker: str, hash_seed: str) -> dict:
    code = (
        f"import json; from automation.reports import generate_report; print(json.dumps(generate_report({ticker!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_same_ticker_gives_the_same_report():
    report = generate_report("AAPL")
    assert generate_report("AAPL") == report
    # Not a cache, not this process's hash seed: two fresh interpreters agree with this one.
    assert (
        report_in_a_fresh_process("AAPL", "1")
        == report_in_a_fresh_process("AAPL", "2")
        == json.loads(json.dumps(report))
    )
    other = generate_report("MSFT")
    assert other["ticker"] == "MSFT" and other["last_close"] != report["last_close"]
    with pytest.raises(NoPriceData):
        generate_report("NOPE")


class RecordingPublisher:
    """A second kind of publisher (what a WordPress one would be): records what it is given."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, int, str]] = []

    def publish(self, *, key, profile, run_id, report) -> Published:
        self.posts.append((key, run_id, report["ticker"]))
        return Published(f"wp-{len(self.posts)}", created=True)


@pytest.mark.django_db(transaction=True)
def test_a_registered_publisher_kind_gets_the_runs_of_its_profiles(world, private_queue, monkeypatch):
    wordpress = RecordingPublisher()
    monkeypatch.setitem(publishers.PUBLISHERS, "wordpress", wordpress)
    site = PublishingProfile.objects.create(owner=world.alice, name="Alice's blog", kind="wordpress")
    local = PublishingProfile.objects.create(owner=world.alice, name="Alice's store")
    assert publisher_for(site) is wordpress
    assert isinstance(publisher_for(local), publishers.LocalPublisher)
    unknown = PublishingProfile(owner=world.alice, name="Somewhere", kind="ftp")
    with pytest.raises(PublishError) as refused:
        publisher_for(unknown)
    assert refused.value.recoverable is False

    # The job, run here (so it sees the registration), publishes through it and nothing else.
    run = services.start_run(owner=world.alice, tickers=["AAPL", "MSFT"], profile_id=site.pk, queue=private_queue.name)
    AutomationRun.objects.filter(pk=run.pk).update(job_id="")  # the job id outside a worker
    result = jobs.run_automation(run_id=run.pk)
    assert (result["published"], result["failed"]) == (2, 0), result
    assert wordpress.posts == [
        (f"run:{run.pk}:ticker:AAPL", run.pk, "AAPL"),
        (f"run:{run.pk}:ticker:MSFT", run.pk, "MSFT"),
    ]
    assert list(run.ticker_states.order_by("position").values_list("published_id", flat=True)) == ["wp-1", "wp-2"]
    assert not Publication.objects.filter(run=run).exists()  # the local store was not used
