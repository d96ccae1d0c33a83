"""Room authorization: project membership checked in the database on every subscribe, seed 000's
join_room limited to your own username, and a non-member never receives a project's events."""

from __future__ import annotations

import pytest

from realtime.emit import emit, project_room, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_subscribes_and_gets_a_snapshot(world, connect):
    bob = connect(world.token(world.bob))
    ack = bob.call("subscribe_project", {"project_id": world.apollo.pk})
    assert ack["ok"] is True
    assert ack["room"] == project_room(world.apollo.pk)
    assert ack["snapshot"] == {"project_id": world.apollo.pk, "jobs": []}
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    assert bob.wait_for("test_event")["_meta"]["room"] == project_room(world.apollo.pk)


def test_a_non_member_gets_an_error_and_never_the_events(world, connect):
    bob = connect(world.token(world.bob))  # same tenant, not on Borealis
    charlie = connect(world.token(world.charlie))  # another tenant
    alice = connect(world.token(world.alice))
    assert alice.call("subscribe_project", {"project_id": world.borealis.pk})["ok"] is True
    for outsider in (bob, charlie):
        ack = outsider.call("subscribe_project", {"project_id": world.borealis.pk})
        assert ack == {"ok": False, "code": "forbidden", "message": f"not allowed to join project:{world.borealis.pk}"}
        error = outsider.wait_for("error")
        assert error["code"] == "forbidden"
        assert error["event"] == "subscribe_project"
    emit("test_event", {"n": 1}, room=project_room(world.borealis.pk))
    alice.wait_for("test_event", lambda d: d["n"] == 1)
    for outsider, user in ((bob, world.bob), (charlie, world.charlie)):
        emit("test_event", {"n": 2}, room=user_room(user.pk))  # sentinel, same publisher
        outsider.wait_for("test_event", lambda d: d["n"] == 2)
        assert [d["n"] for d in outsider.received("test_event")] == [2]


def test_membership_is_checked_again_on_every_subscribe(world, connect):
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    assert bob.call("unsubscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    world.apollo.members.remove(world.bob)
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["code"] == "forbidden"


def test_unsubscribe_checks_membership_and_answers_with_the_jobs(world, connect):
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    ack = bob.call("unsubscribe_project", {"project_id": world.apollo.pk})
    assert ack == {
        "ok": True,
        "room": project_room(world.apollo.pk),
        "snapshot": {"project_id": world.apollo.pk, "jobs": []},
    }
    charlie = connect(world.token(world.charlie))  # another tenant: not a member
    ack = charlie.call("unsubscribe_project", {"project_id": world.apollo.pk})
    assert ack["ok"] is False and ack["code"] == "forbidden"
    error = charlie.wait_for("error")
    assert (error["code"], error["event"]) == ("forbidden", "unsubscribe_project")


def test_a_removed_member_who_unsubscribes_leaves_the_room_and_is_told(world, connect):
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe_project", {"project_id": world.apollo.pk})["ok"] is True
    world.apollo.members.remove(world.bob)
    assert bob.call("unsubscribe_project", {"project_id": world.apollo.pk})["code"] == "forbidden"
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    emit("test_event", {"n": 2}, room=user_room(world.bob.pk))  # sentinel, same publisher
    bob.wait_for("test_event", lambda d: d["n"] == 2)
    assert [d["n"] for d in bob.received("test_event")] == [2]


def test_unsubscribe_stops_the_events(world, connect):
    bob = connect(world.token(world.bob))
    bob.call("subscribe_project", {"project_id": world.apollo.pk})
    bob.call("unsubscribe_project", {"project_id": world.apollo.pk})
    emit("test_event", {"n": 1}, room=project_room(world.apollo.pk))
    emit("test_event", {"n": 2}, room=user_room(world.bob.pk))
    bob.wait_for("test_event", lambda d: d["n"] == 2)
    assert [d["n"] for d in bob.received("test_event")] == [2]


def test_a_malformed_project_id_is_an_error(world, connect):
    bob = connect(world.token(world.bob))
    assert bob.call("subscribe_project", {"project_id": "no such key!"})["code"] == "invalid_room"
    # seed 002's form names project 456, which bob is no member of (issue 13: keys are accepted)
    assert bob.call("subscribe_project", {"project_id": "project_456"})["code"] == "forbidden"
    assert bob.call("subscribe_project", {"project_id": 987654321})["code"] == "forbidden"
    assert bob.call("subscribe_project", {"project_id": [1]})["code"] == "invalid_payload"
    assert bob.call("subscribe_project", {})["code"] == "invalid_payload"


def test_join_room_accepts_only_your_own_username(world, connect):
    alice = connect(world.token(world.alice))
    ack = alice.call("join_room", {"room": world.alice.username})
    assert ack == {"ok": True, "room": user_room(world.alice.pk)}
    ack = alice.call("join_room", {"room": world.bob.username})
    assert ack["ok"] is False and ack["code"] == "forbidden"
    assert alice.wait_for("error")["code"] == "forbidden"


def test_generic_subscribe_checks_each_room_kind(world, connect):
    alice = connect(world.token(world.alice))
    assert alice.call("subscribe", {"room": f"tenant:{world.globex.pk}"})["code"] == "forbidden"
    assert alice.call("subscribe", {"room": f"user:{world.bob.pk}"})["code"] == "forbidden"
    assert alice.call("subscribe", {"room": "staff"})["code"] == "forbidden"
    assert alice.call("subscribe", {"room": "nonsense:1"})["code"] == "invalid_room"
    assert alice.call("subscribe", {"room": f"project:{world.apollo.pk}"})["ok"] is True


def test_unknown_events_and_wrong_types_get_an_error_event(world, connect):
    alice = connect(world.token(world.alice))
    alice.emit("no_such_event", {"x": 1})
    assert alice.wait_for("error", lambda e: e["code"] == "unknown_event")["event"] == "no_such_event"
    assert alice.call("echo", {"n": "not a number"})["code"] == "invalid_payload"
    assert alice.call("echo", "just a string")["code"] == "invalid_payload"
    assert alice.call("pause_automation", {"automation_id": {"$gt": 1}})["code"] == "invalid_payload"
    # the connection still works afterwards
    assert alice.call("echo", {"n": 9})["ok"] is True
