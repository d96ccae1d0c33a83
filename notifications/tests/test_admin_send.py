"""Staff send a notification from the Django admin (to users or a whole tenant); it is stored
and each recipient gets `notification:new`. Non-staff can't reach the form."""

from __future__ import annotations

import pytest

from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)

NS = "/notifications"
SEND_URL = "/admin/notifications/notification/send/"


@pytest.fixture
def staff(world):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        f"ops-{world.alice.username}", "ops@example.com", "password", is_staff=True, is_superuser=True
    )


def test_staff_send_to_a_tenant_from_the_admin(world, staff, connect, client):
    alice = connect(world.token(world.alice), namespaces=[NS])
    bob = connect(world.token(world.bob), namespaces=[NS])
    charlie = connect(world.token(world.charlie), namespaces=[NS])
    client.force_login(staff)
    assert client.get(SEND_URL).status_code == 200
    assert b"Send notification" in client.get("/admin/notifications/notification/").content
    r = client.post(
        SEND_URL, {"tenant": world.acme.pk, "title": "Maintenance", "message": "Tonight", "type": "warning"}
    )
    assert r.status_code == 302
    for user in (alice, bob):
        event = user.wait_for("notification:new", namespace=NS, timeout=10)
        assert (event["title"], event["type"]) == ("Maintenance", "warning")
    assert set(Notification.objects.values_list("user_id", flat=True)) == {world.alice.pk, world.bob.pk}
    # and to one chosen user
    client.post(SEND_URL, {"users": [world.charlie.pk], "title": "Hi", "message": "Just you", "type": "info"})
    assert charlie.wait_for("notification:new", namespace=NS, timeout=10)["title"] == "Hi"
    assert [e["title"] for e in charlie.received("notification:new")] == ["Hi"]


def test_the_form_needs_recipients(world, staff, client):
    client.force_login(staff)
    r = client.post(SEND_URL, {"title": "Nobody", "message": "x", "type": "info"})
    assert r.status_code == 200 and b"Choose users, a tenant, or both." in r.content
    assert not Notification.objects.exists()


def test_non_staff_cannot_send(world, client):
    client.force_login(world.alice)
    r = client.post(SEND_URL, {"users": [world.bob.pk], "title": "Spoof", "message": "x", "type": "info"})
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert not Notification.objects.exists()


def test_view_only_staff_cannot_send(world, client):
    """Seeing notifications in the admin is not enough: sending needs the add permission."""
    from django.contrib.auth.models import Permission

    world.bob.is_staff = True
    world.bob.save(update_fields=["is_staff"])
    world.bob.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(world.bob)
    assert client.get("/admin/notifications/notification/").status_code == 200
    assert b"Send notification" not in client.get("/admin/notifications/notification/").content
    assert client.get(SEND_URL).status_code == 403
    r = client.post(SEND_URL, {"users": [world.alice.pk], "title": "Spoof", "message": "x", "type": "info"})
    assert r.status_code == 403
    assert not Notification.objects.exists()
