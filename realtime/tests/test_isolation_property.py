"""Cross-tenant isolation as a property (hypothesis): random users subscribe to random rooms,
random events are emitted to random rooms, and no client ever receives an event for a room it
is not allowed in; every client does get the events of the rooms it joined."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.emit import STAFF_ROOM, emit, project_room, tenant_room, user_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_never_delivers_an_event_to_a_room_a_client_may_not_join(world, connect):
    users = {"alice": world.alice, "bob": world.bob, "charlie": world.charlie}
    rooms = [
        *(user_room(u.pk) for u in users.values()),
        tenant_room(world.acme.pk),
        tenant_room(world.globex.pk),
        *(project_room(p.pk) for p in (world.apollo, world.borealis, world.cygnus)),
        STAFF_ROOM,
    ]
    allowed = {
        "alice": {
            user_room(world.alice.pk),
            tenant_room(world.acme.pk),
            project_room(world.apollo.pk),
            project_room(world.borealis.pk),
        },
        "bob": {user_room(world.bob.pk), tenant_room(world.acme.pk), project_room(world.apollo.pk)},
        "charlie": {user_room(world.charlie.pk), tenant_room(world.globex.pk), project_room(world.cygnus.pk)},
    }
    # two connections per user: one on '/', one on the seed-004 alias '/ws' (same rooms, same events)
    clients = {name: connect(world.token(u), namespaces=["/", "/ws"]) for name, u in users.items()}
    joined = {
        (name, ns): {user_room(u.pk), tenant_room(u.profile.tenant_id)}
        for name, u in users.items()
        for ns in ("/", "/ws")
    }
    expected: dict[tuple[str, str], list[int]] = {key: [] for key in joined}
    counter = [0]

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
    )
    @given(
        subscribes=st.lists(
            st.tuples(st.sampled_from(sorted(users)), st.sampled_from(rooms), st.sampled_from(["/", "/ws"])), max_size=6
        ),
        emits=st.lists(st.sampled_from(rooms), min_size=1, max_size=8),
    )
    def round_(subscribes, emits) -> None:
        for name, room, ns in subscribes:
            ack = clients[name].call("subscribe", {"room": room}, namespace=ns)
            assert ack["ok"] is (room in allowed[name]), (name, room, ack)
            if ack["ok"]:
                joined[(name, ns)].add(room)
        for room in emits:
            counter[0] += 1
            emit("test_event", {"n": counter[0]}, room=room)
            for key, rooms_in in joined.items():
                if room in rooms_in:
                    expected[key].append(counter[0])
        counter[0] += 1
        sentinel = counter[0]
        for name, user in users.items():  # after the sentinel, every earlier event has arrived
            emit("test_event", {"n": sentinel}, room=user_room(user.pk))
            expected[(name, "/")].append(sentinel)
            expected[(name, "/ws")].append(sentinel)
        for client in clients.values():
            client.wait_for("test_event", lambda d: d["n"] == sentinel, namespace="/")
            client.wait_for("test_event", lambda d: d["n"] == sentinel, namespace="/ws")

    round_()
    for name, client in clients.items():
        for ns in ("/", "/ws"):
            got = client.received("test_event", namespace=ns)
            assert {d["_meta"]["room"] for d in got} <= allowed[name], (name, ns)
            # and every event of the rooms it had joined, once, in order
            assert [d["n"] for d in got] == expected[(name, ns)], (name, ns)
