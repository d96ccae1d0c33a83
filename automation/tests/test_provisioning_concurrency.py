"""Two concurrent starts for one tenant make one provisioning job, not two (the tenant row is
locked while checking, and the database refuses a second active job of a tenant)."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, close_old_connections, transaction

from automation import provisioning, services
from automation.models import ProvisioningJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_starts_make_one_job(world, private_queue):
    n = 6
    barrier = threading.Barrier(n)
    results: list[str] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            barrier.wait(10)
            provisioning.start(by=world.alice, queue=private_queue.name)
            outcome = "started"
        except services.Conflict as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            outcome = repr(exc)
        finally:
            close_old_connections()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["already_provisioning"] * (n - 1) + ["started"], results
    assert ProvisioningJob.objects.filter(tenant=world.acme).count() == 1
    assert private_queue.count == 1


def test_the_database_refuses_a_second_active_job(world):
    ProvisioningJob.objects.create(tenant=world.acme, status="running")
    ProvisioningJob.objects.create(tenant=world.acme, status="completed")  # finished ones don't count
    with pytest.raises(IntegrityError), transaction.atomic():
        ProvisioningJob.objects.create(tenant=world.acme, status="queued")
    ProvisioningJob.objects.create(tenant=world.globex, status="queued")  # another tenant may
