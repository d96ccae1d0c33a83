"""`manage.py seed_demo`'s automation part: profiles and a finished run, idempotent."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from automation.models import AutomationRun, Publication, PublishingProfile

pytestmark = pytest.mark.django_db


def test_it_seeds_profiles_and_a_finished_run_once():
    call_command("seed_demo")
    call_command("seed_demo")
    assert PublishingProfile.objects.filter(name="Demo publication store").count() == 4
    run = AutomationRun.objects.get(owner__username="alice")
    assert run.status == "completed" and run.percent == 100
    assert list(Publication.objects.filter(run=run).values_list("ticker", flat=True)) == run.tickers
