"""Projects have a string key (issue 13): the jobs API takes the key wherever it takes the id;
keys are per tenant, so another tenant's key names nothing. Seed 002's client code, as the seed
writes it, subscribing with `project_id: 'project_456'`, runs in tests/seeds/test_seed002.py."""

from __future__ import annotations

import pytest
import requests

from accounts.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_project_answers_to_its_own_key_or_the_derived_one_in_its_tenant_only(world):
    from accounts.projects import UnknownProject, project_id_for

    acme, globex = world.acme.pk, world.globex.pk
    assert world.apollo.client_key == f"project_{world.apollo.pk}"
    assert project_id_for(f"project_{world.apollo.pk}", acme) == world.apollo.pk  # derived
    assert project_id_for(str(world.apollo.pk), acme) == world.apollo.pk  # the id, as before
    world.apollo.key = "apollo"
    world.apollo.save()
    assert world.apollo.client_key == "apollo"
    assert project_id_for("apollo", acme) == world.apollo.pk
    with pytest.raises(UnknownProject):
        project_id_for("apollo", globex)  # keys are per tenant
    # the same key in another tenant is another project; an own key wins over a derived one
    Project.objects.create(tenant=world.globex, name="Other", key="apollo")
    world.cygnus.key = f"project_{world.apollo.pk}"
    world.cygnus.save()
    assert project_id_for(f"project_{world.apollo.pk}", globex) == world.cygnus.pk
    for bad in ("no such key!", "x" * 21, "", None, ["apollo"]):
        with pytest.raises(UnknownProject):
            project_id_for(bad, acme)


def test_the_jobs_api_takes_the_key_where_it_takes_the_id(world, asgi_server):
    headers = {"Authorization": f"Bearer {world.token(world.bob)}"}
    by_id = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.pk}/jobs", headers=headers, timeout=10)
    by_key = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.client_key}/jobs", headers=headers, timeout=10)
    assert by_id.status_code == by_key.status_code == 200, (by_id.text, by_key.text)
    assert by_id.json() == by_key.json()
    # charlie's tenant has no such key; bob is not in charlie's project
    outsider = {"Authorization": f"Bearer {world.token(world.charlie)}"}
    r = requests.get(f"{asgi_server.url}/api/projects/{world.apollo.client_key}/jobs", headers=outsider, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = requests.get(f"{asgi_server.url}/api/projects/{world.cygnus.client_key}/jobs", headers=headers, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_subscribe_project_by_key_checks_the_tenant_and_membership(world, connect):
    bob = connect(world.token(world.bob))
    assert (
        bob.call("subscribe_project", {"project_id": world.apollo.client_key})["room"] == f"project:{world.apollo.pk}"
    )
    assert bob.call("unsubscribe_project", {"project_id": world.apollo.client_key})["ok"] is True
    world.cygnus.key = "cygnus"
    world.cygnus.save()
    refused = bob.call("subscribe_project", {"project_id": "cygnus"})  # another tenant's key
    assert refused["ok"] is False and refused["code"] == "invalid_room"
    refused = bob.call("subscribe_project", {"project_id": "no such key!"})
    assert refused["ok"] is False and refused["code"] == "invalid_room"
