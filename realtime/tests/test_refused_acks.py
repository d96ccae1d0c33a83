"""Every refused client event answers its ack with `ok: false` and a code, so a client's
`call()` never waits for its timeout (issue 21, defect 5: an event named `connect` or
`disconnect` sent with an ack got an `error` event but never its ack). A real python-socketio
client, a real server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

CALL_TIMEOUT = 5  # an answer comes in milliseconds; a missing one is python-socketio's TimeoutError


@pytest.mark.parametrize("namespace", ["/", "/notifications"])
def test_each_refused_event_answers_its_ack(world, connect, namespace):
    client = connect(world.token(world.alice), namespaces=[namespace])
    cases = [
        ("connect", {}, "invalid_event"),
        ("disconnect", {}, "invalid_event"),
        ("no_such_event", {}, "unknown_event"),
        ("subscribe", {"room": 5}, None),  # the contract's schema refuses it (its own code)
        ("subscribe", {"room": "nope:1"}, None),
        ("subscribe", {"room": f"project:{world.cygnus.pk}"}, "forbidden"),
    ]
    for event, data, code in cases:
        answer = client.sio.call(event, data, namespace=namespace, timeout=CALL_TIMEOUT)
        assert isinstance(answer, dict) and answer["ok"] is False, (event, data, answer)
        assert isinstance(answer["code"], str) and answer["message"], (event, answer)
        if code is not None:
            assert answer["code"] == code, (event, data, answer)
    two_args = client.sio.call("subscribe", ({"room": "x"}, 2), namespace=namespace, timeout=CALL_TIMEOUT)
    assert two_args["ok"] is False and two_args["code"] == "invalid_payload"
    # the connection is still fine
    assert client.sio.call("subscribe", {"room": f"project:{world.apollo.pk}"}, namespace=namespace)["ok"] is True


def test_a_rate_limited_event_answers_its_ack(world, connect, settings):
    client = connect(world.token(world.bob))
    for n in range(settings.SOCKETIO_RATE_LIMIT_BURST * 2):
        client.sio.emit("no_such_event", {"n": n})
    answers = [client.sio.call("no_such_event", {}, timeout=CALL_TIMEOUT) for _ in range(3)]
    assert all(a["ok"] is False for a in answers), answers
    assert "rate_limited" in {a["code"] for a in answers}, answers
