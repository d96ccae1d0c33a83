"""The seed compatibility suite's shared parts: one server and one worker for the whole package,
and the people and data the seeds' clients use, created once (the clients run once per seed, in
module fixtures, and each test checks one expectation of what they saw).

The server runs with seed 001's statistics fields declared (tests/seeds/seed001_statistics.json,
as an app adopting the product would) and a 1 s statistics interval."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.management import call_command

from testing import BASE_DIR
from testing.processes import LiveServer, Proc, start_server, start_worker
from testing.waits import wait_until
from testing.world import World, make_world

SEED_001_FIELDS = BASE_DIR / "tests" / "seeds" / "seed001_statistics.json"


@dataclass
class Seeds:
    server: LiveServer
    world: World
    staff: object  # alice, staff (seed 001's dashboard)
    api_token: str  # bob's API token (seed 002 sends ?token=)
    opening: object  # a job opening bob qualifies for (seed 000)
    liability: object  # bob's car loan (seed 000)
    profile: object  # bob's publishing profile (seed 003)
    dave: object  # in a tenant whose slug is no DNS label: its provisioning fails (seed 004)

    def jwt(self, user=None) -> str:
        return self.world.token(user or self.world.bob)


@pytest.fixture(scope="package")
def seeds(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.contrib.auth import get_user_model

        from accounts.models import ApiToken, Profile, Tenant
        from automation.models import PublishingProfile
        from billing.models import BalanceSheet, BankAccount, JobOpening, Liability

        world = make_world()
        world.alice.is_staff = True
        world.alice.save(update_fields=["is_staff"])
        world.apollo.key = "project_456"  # seed 002's own project key
        world.apollo.save()
        _, api_token = ApiToken.create_for(user=world.bob, name="seed-002")
        opening = JobOpening.objects.create(
            title="Courier", employer="Speedy Parcels", salary=Decimal("1200"), required_skills=["driving"], headcount=5
        )
        BankAccount.objects.create(user=world.bob, balance=Decimal("100.00"))
        sheet = BalanceSheet.objects.create(user=world.bob)
        liability = Liability.objects.create(balance_sheet=sheet, name="Car loan", outstanding=Decimal("50.00"))
        profile = PublishingProfile.objects.create(owner=world.bob, name="Bob's store")
        bad = Tenant.objects.create(name="Bad Slug Ltd", slug=f"bad_slug_{world.acme.pk}")
        dave = get_user_model().objects.create_user(f"dave{world.acme.pk}", "dave@example.com", "password")
        Profile.objects.create(user=dave, tenant=bad)
    started = []
    try:
        server = start_server(REALTIME_CONTRACT_EXTRA=str(SEED_001_FIELDS), OPS_STATS_INTERVAL_SECONDS="1")
        started.append(server.proc)
        lead_the_statistics(server)
        worker = start_worker(AUTOMATION_STEP_SECONDS="0.05")
        started.append(worker)
        wait_until(lambda: worker_registered(worker), timeout=30, what="the suite's worker registered")
        yield Seeds(server, world, world.alice, api_token, opening, liability, profile, dave)
    finally:
        for proc in started:
            proc.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)  # as the transactional tests leave it


def lead_the_statistics(server: LiveServer) -> None:
    """Make this server the statistics loop's leader (ops/loop.py). The session's server shares
    its Redis and may hold the lock: it would then send the statistics, without seed 001's
    declared fields. This server renews the lock from its next round; the other one, finding it
    taken, stops sending. The lock expires 3 s after this server stops, and the other one takes
    it back."""
    from ops import keys
    from realtime.redis import sync_client

    sync_client().set(keys.LEADER, f"{socket.gethostname()}:{server.proc.popen.pid}", px=3000)


def worker_registered(proc: Proc) -> bool:
    import django_rq
    from rq import Worker

    return any(w.pid == proc.popen.pid for w in Worker.all(connection=django_rq.get_connection("default")))
