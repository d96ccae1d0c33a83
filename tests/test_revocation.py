"""Losing access takes effect at once on every live connection, on every server (issue 17).

Two server processes (the session's and one of this module's). The client is on one of them; the
change is made in this test process (the ORM, or the Django admin through the test client), which
is neither, or over HTTP on the other server. Within 1 s the client is out (disconnected, or no
longer in the room), got the documented error, receives none of the room's later events, and a
reconnect with its positions gets nothing from the lost room's log (item 3)."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, JwtCutoff
from jobs.models import JobRecord
from realtime.client import RealtimeClient
from realtime.emit import STAFF_ROOM, emit, project_room, tenant_room, user_room
from testing.counts import record_counts
from testing.revocation import assert_room_silent, closed_with, error_of, room_events_after_error, timed
from testing.waits import drain, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(world) -> Client:
    admin = get_user_model().objects.create_superuser(f"root{world.acme.pk}", "root@example.com", "password")
    client = Client()
    client.force_login(admin)
    return client


USERS_PAGE = "/admin/auth/user/"  # the admin's user actions are posted here; their message shows here


def session_headers(cookie: str) -> dict[str, str]:
    return {"Cookie": f"sessionid={cookie}"}


def assert_reconnect_refused(client: RealtimeClient, code: str) -> None:
    """Reconnecting with the same credentials (and its positions) is refused with `code`."""
    wait_until(lambda: client.sio.eio.state == "disconnected", timeout=5, what="transport closed")
    client.connect_errors.clear()
    with pytest.raises(Exception) as raised:  # noqa: B017 (python-socketio raises ConnectionError)
        client.reconnect(wait_timeout=5)
    client.wait_until(lambda: client.connect_errors, timeout=5, what=f"connect_error ({raised.value!r})")
    assert client.connect_errors[0]["code"] == code


def assert_not_replayed(client: RealtimeClient, room: str, code: str) -> None:
    """Item 3: an event sent to the lost room, then a reconnect with the client's positions (which
    still name the room): the server refuses the room and replays nothing from its log."""
    emit("test_event", {"n": 777, "source": "while-away"}, room=room)
    client.disconnect()
    wait_until(lambda: client.sio.eio.state == "disconnected", timeout=5, what="transport closed")
    assert room in client.positions["/"], "the client must come back with a position for the lost room"
    client.reconnect()
    client.wait_for(
        "error", lambda e: e["code"] == "forbidden" and e.get("event") == "connect" and room in e["message"]
    )
    client.wait_for("connected", count=2)
    drain(client, user_room(client.wait_for("connected")["user_id"]))
    assert room_events_after_error(client, room, code) == []


# --- closed: the connection ends --------------------------------------------------------------------


def test_logout_closes_that_sessions_sockets_and_no_other(world, connect, asgi_server, second_server, session_cookie):
    """The browser logs out over HTTP on one server; its socket is on the other."""
    first, second = session_cookie(world.bob), session_cookie(world.bob)
    out = connect(headers=session_headers(first), url=second_server.url)
    stays = connect(headers=session_headers(second), url=second_server.url)
    browser = requests.Session()
    browser.cookies.set("sessionid", first)
    assert browser.get(f"{asgi_server.url}/accounts/login/", timeout=10).status_code == 200  # the CSRF cookie

    def logout() -> None:
        answer = browser.post(
            f"{asgi_server.url}/accounts/logout/",
            data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code in (200, 302), answer.text[:500]

    error = timed("logout", logout, closed_with(out, "access_revoked"))
    assert error["message"] == "you logged out"
    drain(stays, user_room(world.bob.pk))  # the other session's socket still receives
    assert stays.disconnects == 0
    assert_reconnect_refused(out, "unauthenticated")


def test_a_password_change_closes_the_session_sockets(world, connect, asgi_server, second_server, session_cookie):
    session = connect(headers=session_headers(session_cookie(world.bob)), url=second_server.url)
    jwt = connect(world.token(world.bob), url=asgi_server.url)

    def change_password() -> None:
        world.bob.set_password("a new password")
        world.bob.save()

    timed("password change", change_password, closed_with(session, "access_revoked"))
    drain(jwt, user_room(world.bob.pk))  # a JWT is not a session: kept
    assert_reconnect_refused(session, "unauthenticated")  # the session's auth hash no longer matches


def test_deactivating_a_user_closes_every_socket_of_theirs(world, connect, asgi_server, second_server, session_cookie):
    _, raw = ApiToken.create_for(user=world.bob, name="ci")
    jwt = connect(world.token(world.bob), url=second_server.url)
    api = connect(query_token=raw, url=asgi_server.url)
    session = connect(headers=session_headers(session_cookie(world.bob)), url=second_server.url)
    alice = connect(world.token(world.alice), url=asgi_server.url)
    assert jwt.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True

    def deactivate() -> None:
        world.bob.is_active = False
        world.bob.save()

    timed("user deactivated", deactivate, closed_with(jwt, "access_revoked"))
    for client in (api, session):
        closed_with(client, "access_revoked")(5)
    assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert_room_silent(
        jwt, project_room(world.apollo.pk), "access_revoked", witness=alice, sentinel_room=user_room(world.bob.pk)
    )
    assert_reconnect_refused(jwt, "unknown_user")


def test_deleting_a_user_closes_their_sockets(world, connect, second_server):
    jwt = connect(world.token(world.bob), url=second_server.url)
    timed("user deleted", world.bob.delete, closed_with(jwt, "access_revoked"))
    assert_reconnect_refused(jwt, "unknown_user")


def test_a_tenant_change_closes_the_users_sockets(world, connect, second_server):
    jwt = connect(world.token(world.bob), url=second_server.url)

    def move() -> None:
        world.bob.profile.tenant = world.globex
        world.bob.profile.save()

    timed("tenant changed", move, closed_with(jwt, "access_revoked"))
    # the JWT still names the old tenant: refused (a new one carries the new tenant)
    assert_reconnect_refused(jwt, "invalid_token")
    # with a new token, the old tenant's room (in the client's positions) is refused, not replayed
    old_tenant = tenant_room(world.acme.pk)
    emit("test_event", {"n": 778}, room=old_tenant)
    jwt.token = world.token(world.bob)
    jwt.reconnect()
    jwt.wait_for("error", lambda e: e.get("event") == "connect" and old_tenant in e["message"])
    drain(jwt, user_room(world.bob.pk))
    assert [e for e in jwt.received("test_event") if e["_meta"]["room"] == old_tenant] == []


def test_revoking_or_deleting_an_api_token_closes_its_sockets(world, connect, asgi_server, second_server):
    token, raw = ApiToken.create_for(user=world.bob, name="ci")
    other_token, other_raw = ApiToken.create_for(user=world.bob, name="other")
    revoked = connect(query_token=raw, url=second_server.url)
    kept = connect(query_token=other_raw, url=asgi_server.url)
    jwt = connect(world.token(world.bob), url=second_server.url)

    def revoke() -> None:
        token.revoked_at = timezone.now()
        token.save()

    timed("api token revoked", revoke, closed_with(revoked, "token_revoked"))
    drain(kept, user_room(world.bob.pk))
    drain(jwt, user_room(world.bob.pk))
    assert kept.disconnects == jwt.disconnects == 0
    assert_reconnect_refused(revoked, "invalid_token")
    timed("api token deleted", other_token.delete, closed_with(kept, "token_revoked"))
    drain(jwt, user_room(world.bob.pk))


def test_revoking_jwts_in_the_admin_closes_the_jwt_sockets(world, connect, asgi_server, second_server, admin_client):
    _, raw = ApiToken.create_for(user=world.bob, name="ci")
    jwt = connect(world.token(world.bob), url=second_server.url)
    api = connect(query_token=raw, url=asgi_server.url)

    def revoke_in_admin() -> None:
        answer = admin_client.post(USERS_PAGE, {"action": "revoke_jwts", "_selected_action": [world.bob.pk]})
        assert answer.status_code == 302  # the page it redirects to is read after the timing

    timed("jwt revoked (admin action)", revoke_in_admin, closed_with(jwt, "token_revoked"))
    assert "Revoked the JWTs of 1 user(s)." in admin_client.get(USERS_PAGE).content.decode()
    drain(api, user_room(world.bob.pk))  # not a JWT: kept
    assert_reconnect_refused(jwt, "token_revoked")
    cutoff = JwtCutoff.objects.get(user=world.bob).valid_after.timestamp()
    import time

    # a JWT issued after the cutoff's second works (iat has whole seconds)
    wait_until(lambda: int(time.time()) > cutoff, timeout=3, what="the next second")
    connect(world.token(world.bob), url=second_server.url)
    answer = admin_client.get(f"/admin/auth/user/{world.bob.pk}/history/")
    assert "Revoked JWTs" in answer.content.decode()


def test_disconnect_all_sockets_in_the_admin(world, connect, asgi_server, second_server, admin_client):
    on_one = connect(world.token(world.bob), url=asgi_server.url)
    on_two = connect(world.token(world.bob), url=second_server.url)
    alice = connect(world.token(world.alice), url=second_server.url)

    def disconnect_in_admin() -> None:
        data = {"action": "disconnect_sockets", "_selected_action": [world.bob.pk]}
        assert admin_client.post(USERS_PAGE, data).status_code == 302

    timed("disconnect all sockets (admin action)", disconnect_in_admin, closed_with(on_two, "access_revoked"))
    assert "Disconnected the sockets of 1 user(s)." in admin_client.get(USERS_PAGE).content.decode()
    closed_with(on_one, "access_revoked")(5)
    drain(alice, user_room(world.alice.pk))
    assert alice.disconnects == 0
    answer = admin_client.get(f"/admin/auth/user/{world.bob.pk}/history/")
    assert "Disconnected all sockets" in answer.content.decode()
    wait_until(lambda: on_two.sio.eio.state == "disconnected", timeout=5, what="transport closed")
    on_two.reconnect()  # not a loss of access: bob may come back
    on_two.wait_for("connected", count=2)


def test_a_flushed_session_closes_its_sockets(world, connect, second_server, session_cookie):
    cookie = session_cookie(world.bob)
    client = connect(headers=session_headers(cookie), url=second_server.url)

    def flush() -> None:
        Session.objects.filter(session_key=cookie).delete()

    timed("session flushed", flush, closed_with(client, "session_expired"))
    assert_reconnect_refused(client, "unauthenticated")


def test_an_expiring_session_closes_its_sockets_when_it_expires(world, connect, second_server):
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(world.bob.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = world.bob.get_session_auth_hash()
    store.set_expiry(3)
    store.save()
    client = connect(headers=session_headers(store.session_key), url=second_server.url)
    expires = Session.objects.get(session_key=store.session_key).expire_date.timestamp()
    error = client.wait_for("error", lambda e: e["code"] == "session_expired", timeout=10)
    import time

    late = time.time() - expires
    record_counts("revocation session expired", {"expiry_to_effect_ms": round(late * 1000, 1)})
    assert 0 <= late < 1.0, late
    client.wait_until(lambda: client.disconnects >= 1, timeout=5, what="disconnected")
    assert "expired" in error["message"]


# --- left room: the connection stays --------------------------------------------------------------


def test_removing_a_project_member_in_the_admin_drops_the_project_and_its_job_rooms(
    world, connect, asgi_server, second_server, admin_client
):
    job = JobRecord.objects.create(kind="demo", project=world.apollo, user=world.alice)
    bob = connect(world.token(world.bob), url=second_server.url)
    alice = connect(world.token(world.alice), url=asgi_server.url)
    room, job_room = project_room(world.apollo.pk), f"job:{job.pk}"
    for client in (bob, alice):
        assert client.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
        assert client.call("subscribe", {"room": job_room})["ok"] is True
    assert bob.call("subscribe_project", {"project_id": world.borealis.pk})["ok"] is False

    def remove_in_admin() -> None:
        answer = admin_client.post(
            f"/admin/accounts/project/{world.apollo.pk}/change/",
            {"name": world.apollo.name, "key": "", "tenant": world.acme.pk, "members": [world.alice.pk]},
        )
        assert answer.status_code == 302, answer.content.decode()[:2000]

    error = timed("project member removed (admin)", remove_in_admin, error_of(bob, "room_revoked", room))
    bob.wait_for("error", lambda e: e["code"] == "room_revoked" and e.get("room") == job_room, timeout=5)
    assert error["message"] == "you are no longer a member of this project"
    assert bob.disconnects == 0
    for lost in (room, job_room):
        assert_room_silent(bob, lost, "room_revoked", witness=alice, sentinel_room=user_room(world.bob.pk))
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is False
    assert_not_replayed(bob, room, "room_revoked")


def test_removing_the_staff_flag_drops_the_staff_and_others_run_rooms(world, connect, asgi_server, second_server):
    from automation.models import AutomationRun, PublishingProfile

    profile = PublishingProfile.objects.create(owner=world.alice, name="Alice's store")
    run = AutomationRun.objects.create(owner=world.alice, profile=profile, tickers=["AAPL"])
    for user in (world.alice, world.bob):
        user.is_staff = True
        user.save()
    bob = connect(world.token(world.bob), url=second_server.url)
    alice = connect(world.token(world.alice), url=asgi_server.url)
    run_room = f"run:{run.pk}"
    for client in (bob, alice):
        for room in (STAFF_ROOM, run_room):
            assert client.call("subscribe", {"room": room})["ok"] is True

    def unstaff() -> None:
        world.bob.is_staff = False
        world.bob.save()

    timed("staff flag removed", unstaff, error_of(bob, "room_revoked", STAFF_ROOM))
    bob.wait_for("error", lambda e: e["code"] == "room_revoked" and e.get("room") == run_room, timeout=5)
    assert bob.disconnects == 0
    for lost in (STAFF_ROOM, run_room):
        assert_room_silent(bob, lost, "room_revoked", witness=alice, sentinel_room=user_room(world.bob.pk))
    assert_not_replayed(bob, run_room, "room_revoked")


def test_removing_a_member_with_the_orm_from_the_users_side(world, connect, second_server):
    bob = connect(world.token(world.bob), url=second_server.url)
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    room = project_room(world.apollo.pk)
    timed(
        "project member removed (orm, user side)",
        lambda: world.bob.projects.remove(world.apollo),
        error_of(bob, "room_revoked", room),
    )
    assert_not_replayed(bob, room, "room_revoked")


def test_clearing_a_projects_members(world, connect, second_server):
    bob = connect(world.token(world.bob), url=second_server.url)
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    room = project_room(world.apollo.pk)
    timed("project members cleared", world.apollo.members.clear, error_of(bob, "room_revoked", room))


def test_disconnecting_a_user_on_the_live_ops_page(world, connect, second_server, admin_client):
    bob = connect(world.token(world.bob), url=second_server.url)
    page = admin_client.get("/admin/ops/liveops/").content.decode()
    assert 'id="ops-disconnect"' in page

    def disconnect_on_the_page() -> None:
        answer = admin_client.post("/admin/ops/liveops/disconnect/", {"username": world.bob.username})
        assert answer.status_code == 302 and answer["Location"] == "/admin/ops/liveops/"

    timed("disconnect (live ops page)", disconnect_on_the_page, closed_with(bob, "access_revoked"))
    page = admin_client.get("/admin/ops/liveops/").content.decode()
    assert f"Disconnected every socket of {world.bob.username}." in page
    history = admin_client.get(f"/admin/auth/user/{world.bob.pk}/history/").content.decode()
    assert "Disconnected all sockets" in history
    answer = admin_client.post("/admin/ops/liveops/disconnect/", {"username": "nobody-here"}, follow=True)
    assert "No user named" in answer.content.decode()
    assert admin_client.get("/admin/ops/liveops/disconnect/").status_code == 405


def test_a_plain_websocket_client_loses_a_room_then_its_connection(world, connect, second_server):
    from realtime.tests.test_bridge_support import RoomStreamClient

    room = project_room(world.apollo.pk)
    ws = RoomStreamClient(second_server.url, token=world.token(world.bob))
    try:
        ws.wait_type("welcome")
        ws.send({"type": "subscribe", "room": room})
        ws.wait_type("subscribed", room=room)
        alice = connect(world.token(world.alice))
        assert alice.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True

        def removed(timeout: float) -> dict:
            return ws.wait_for(lambda f: f["type"] == "error" and f["code"] == "room_revoked", timeout=timeout)

        error = timed("project member removed (/ws/rooms/)", lambda: world.apollo.members.remove(world.bob), removed)
        assert error["room"] == room
        emit("test_event", {"n": 1}, room=room)
        emit("test_event", {"n": 2}, room=user_room(world.bob.pk))
        alice.wait_for("test_event", lambda d: d["n"] == 1)
        ws.wait_for(lambda f: f["type"] == "event" and f["data"]["n"] == 2, what="the user room's event")
        after = ws.frames[ws.frames.index(error) + 1 :]
        assert [f for f in after if f.get("room") == room] == []

        def deactivate() -> None:
            world.bob.is_active = False
            world.bob.save()

        def closed(timeout: float) -> dict:
            return ws.wait_for(lambda f: f["type"] == "error" and f["code"] == "access_revoked", timeout=timeout)

        timed("user deactivated (/ws/rooms/)", deactivate, closed)
        assert ws.wait_close() == 4401
    finally:
        ws.close()
