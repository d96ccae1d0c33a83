"""Fuzzing a running server (hypothesis): malformed Engine.IO/Socket.IO packets, oversized
payloads, wrong types in every client event of the contract, unknown namespaces. The server
stays up, answers with errors (never an internal error), grants no room it should not, and no
event of another user or tenant leaks to the fuzzing connection."""

from __future__ import annotations

import json
import threading

import pytest
import requests
import socketio
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import contract
from realtime.client import RealtimeClient
from realtime.emit import emit, project_room, tenant_room, user_room
from tools.embedded_redis import free_port

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def client_events() -> list[tuple[str, str, list[str]]]:
    """(event, namespace, payload keys) for every client-to-server event of the contract."""
    out = []
    for spec in contract.load()["events"]:
        if spec["direction"] == "client_to_server":
            keys = list(spec.get("schema", {}).get("properties", {}))
            out.extend((spec["name"], ns, keys) for ns in spec["namespaces"])
    return out


@pytest.fixture
def fuzz_server():
    """A server of this test's own with a rate limit that lets the fuzzer through."""
    from testing.processes import start_server

    server = start_server(free_port(), SOCKETIO_RATE_LIMIT_PER_SECOND="5000", SOCKETIO_RATE_LIMIT_BURST="5000")
    yield server
    server.proc.stop()


def fuzz(strategy, send) -> None:
    """Send every example hypothesis draws from `strategy` (FUZZ's settings)."""

    @FUZZ
    @given(example=strategy)
    def run(example) -> None:
        send(example)

    run()


def assert_no_tracebacks(server) -> None:
    """Nothing a client sent made the server log an exception: every bad packet was refused on
    purpose (a 4xx, an `error` event, a closed session), none escaped to python-engineio's
    catch-all "handler error" log or to the ASGI server as a 500."""
    log = server.proc.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]


class Leaks:
    """Emits to rooms the fuzzing user (alice) may never see, from a thread, while the test runs."""

    def __init__(self, world) -> None:
        self.rooms = [
            user_room(world.charlie.pk),
            tenant_room(world.globex.pk),
            project_room(world.cygnus.pk),
            user_room(world.bob.pk),
            project_room(world.borealis.pk) + "0",
        ]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop.wait(0.02):
            n += 1
            for room in self.rooms:
                emit("test_event", {"n": n, "text": "secret"}, room=room, on_commit=False)

    def __enter__(self) -> Leaks:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


def allowed_rooms(world) -> set[str]:
    return {
        user_room(world.alice.pk),
        tenant_room(world.acme.pk),
        project_room(world.apollo.pk),
        project_room(world.borealis.pk),
    }


def test_it_answers_wrong_types_in_every_client_event_with_errors(world, fuzz_server):
    events = client_events()
    namespaces = sorted({ns for _, ns, _ in events})
    alice = RealtimeClient(fuzz_server.url, token=world.token(world.alice))
    alice.connect(namespaces=namespaces)
    for ns in namespaces:
        alice.wait_for("connection_status", namespace=ns)
    allowed = allowed_rooms(world)

    payloads = json_values | st.builds(
        lambda keys, values: dict(zip(keys, values, strict=False)),
        st.sampled_from([keys for _, _, keys in events if keys]),
        st.lists(json_values, min_size=1, max_size=4),
    )

    @FUZZ
    @given(target=st.sampled_from(events), payload=payloads)
    def send(target, payload) -> None:
        event, ns, _ = target
        ack = alice.call(event, payload, namespace=ns, timeout=10)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if ack["ok"]:
            if "room" in ack and event in ("subscribe", "subscribe_project"):
                assert ack["room"] in allowed, (event, payload, ack)
        else:
            assert ack["code"] != "internal_error", (event, payload, ack)
            assert isinstance(ack["message"], str)

    with Leaks(world) as leaks:
        send()
    assert requests.get(fuzz_server.url + "/healthz", timeout=5).status_code == 200
    leaked = [d for d in alice.received("test_event") if d["_meta"]["room"] in leaks.rooms]
    assert not leaked
    alice.disconnect()
    assert_no_tracebacks(fuzz_server)


class Raw:
    """A raw Engine.IO websocket connection, authenticated as a user on '/'; reopened when the
    server closes it (which it may do for a malformed packet)."""

    def __init__(self, server, token: str) -> None:
        self.url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self.ws: websocket.WebSocket | None = None
        self.frames: list[str] = []
        self.reopened = 0

    def open(self) -> None:
        self.ws = websocket.create_connection(self.url, timeout=5)
        assert self.ws.recv().startswith("0{")
        self.ws.send("40" + json.dumps({"token": self.token}))
        self.drain(until=lambda f: f.startswith("40{"))

    def drain(self, until=None, timeout: float = 0.05) -> None:
        assert self.ws is not None
        self.ws.settimeout(timeout if until is None else 5)
        try:
            while True:
                frame = self.ws.recv()
                if isinstance(frame, bytes):
                    frame = frame.decode("utf-8", "replace")
                if frame == "2":  # the server's ping
                    self.ws.send("3")
                self.frames.append(frame)
                if until is not None and until(frame):
                    return
        except (websocket.WebSocketTimeoutException, TimeoutError):
            if until is not None:
                raise

    def send(self, frame: str | bytes) -> None:
        if self.ws is None or not self.ws.connected:
            self.reopened += 1
            self.open()
        self.last = frame
        try:
            if isinstance(frame, bytes):
                self.ws.send_binary(frame)
            else:
                self.ws.send(frame)
            self.drain()
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            self.ws = None  # the server hung up on a bad packet: fine, the next example reopens

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except OSError:
                pass
            self.ws = None


prefixes = st.sampled_from(
    [
        "",
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "40",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "4/nope,",
        "40/nope,",
        "42/notifications,",
        "42/billing,",
        "42/ws,",
        "421",
        "42999999999999999999",
        "b",
        "451-",
        "4-",
    ]
)
bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.tuples(
        st.sampled_from(
            [
                "subscribe",
                "subscribe_project",
                "echo",
                "connect",
                "disconnect",
                "join_room",
                "notification_read",
                "x" * 300,
            ]
        ),
        json_values,
    ).map(lambda t: json.dumps(list(t))),
    st.integers(min_value=70_000, max_value=120_000).map(lambda n: '["echo",{"n":1,"text":"' + "x" * n + '"}]'),
)
raw_frames = st.one_of(st.tuples(prefixes, bodies).map("".join), st.binary(max_size=300))


def test_it_survives_malformed_packets_and_leaks_nothing(world, fuzz_server):
    raw = Raw(fuzz_server, world.token(world.alice))
    raw.open()
    with Leaks(world) as leaks:
        fuzz(raw_frames, raw.send)
        raw.close()
        # a new connection still gets answers: errors for well-formed packets with bad contents
        for frame in ('42["subscribe",5]', '42["no_such_event",{}]', '42["echo",{"n":"7"}]', '42["echo",{"n":7}]'):
            raw.send(frame)
    echoed = lambda f: f.startswith('42["test_event"') and '"n":7' in f  # noqa: E731
    if not any(echoed(f) for f in raw.frames):
        raw.drain(until=echoed)
    assert requests.get(fuzz_server.url + "/healthz", timeout=5).status_code == 200
    leaked = [f for f in raw.frames if any(json.dumps(room) in f for room in leaks.rooms)]
    assert not leaked, leaked[:3]
    errors = [f for f in raw.frames if f.startswith('42["error"')]
    codes = {json.loads(f[2:])[1]["code"] for f in errors}
    assert {"invalid_payload", "unknown_event"} <= codes, codes
    assert not [f for f in errors if "internal_error" in f]
    raw.close()
    assert_no_tracebacks(fuzz_server)
    print(f"fuzz raw: frames_received={len(raw.frames)} error_events={len(errors)} reopened={raw.reopened}")


def test_it_refuses_unknown_namespaces(world, asgi_server):
    client = RealtimeClient(asgi_server.url, token=world.token(world.alice), reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(namespaces=["/nope"], wait_timeout=5)
    raw = Raw(asgi_server, world.token(world.alice))
    raw.open()
    raw.ws.send("40/admin," + json.dumps({"token": raw.token}))
    raw.drain(until=lambda f: f.startswith("44/admin,"))
    raw.close()


class Polling:
    """A raw Engine.IO long-polling session, authenticated as a user on '/'; a new one is opened
    when the server ends it (which it may do for a malformed payload)."""

    def __init__(self, server, token: str) -> None:
        self.base = server.url + "/socket.io/"
        self.token = token
        self.http = requests.Session()
        self.sid: str | None = None
        self.frames: list[str] = []
        self.statuses: list[int] = []
        self.reopened = 0

    def _url(self) -> str:
        return f"{self.base}?EIO=4&transport=polling&sid={self.sid}"

    def open(self) -> None:
        r = self.http.get(self.base + "?EIO=4&transport=polling", timeout=10)
        assert r.status_code == 200 and r.text.startswith("0{"), r.text[:200]
        self.sid = json.loads(r.text[1:])["sid"]
        assert self.http.post(self._url(), data="40" + json.dumps({"token": self.token}), timeout=10).ok
        self.poll(until=lambda f: f.startswith("40{"))

    def poll(self, until=None) -> None:
        """One GET; with `until`, GETs until a frame matches it, failing if none does (the session
        ended, or 20 polls brought nothing that matched)."""
        for _ in range(20):
            r = self.http.get(self._url(), timeout=30)
            self.statuses.append(r.status_code)
            if r.status_code != 200:
                self.sid = None
                assert until is None, f"the session ended ({r.status_code} {r.text[:100]}) before the awaited frame"
                return
            for frame in r.text.split("\x1e"):
                if frame == "2":  # the server's ping
                    self.http.post(self._url(), data="3", timeout=10)
                self.frames.append(frame)
                if until is not None and until(frame):
                    return
            if until is None:
                return
        raise AssertionError(f"no awaited frame in 20 polls; last frames: {self.frames[-5:]}")

    def send(self, body: str | bytes) -> None:
        if self.sid is None:
            self.reopened += 1
            self.open()
        r = self.http.post(self._url(), data=body, timeout=10)
        self.statuses.append(r.status_code)
        if r.status_code != 200:
            self.sid = None  # the server refused the payload and may have ended the session


payload_bodies = st.one_of(
    raw_frames,
    st.lists(st.tuples(prefixes, bodies).map("".join), min_size=2, max_size=4).map("\x1e".join),
)


def test_it_survives_malformed_long_polling_payloads_and_leaks_nothing(world, fuzz_server):
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    with Leaks(world) as leaks:
        fuzz(payload_bodies, poller.send)
        # requests the transport must refuse with a 4xx, never a 5xx
        for query in ("EIO=3&transport=polling", "EIO=4&transport=nope", "EIO=4&transport=polling&sid=nope"):
            r = requests.post(f"{poller.base}?{query}", data="40", timeout=10)
            assert 400 <= r.status_code < 500, (query, r.status_code)
        # and a new, well-formed session still gets its answers
        poller.open()
        poller.send('42["echo",{"n":7}]')
        poller.poll(until=lambda f: f.startswith('42["test_event"') and '"n":7' in f)
    assert requests.get(fuzz_server.url + "/healthz", timeout=5).status_code == 200
    assert not [s for s in poller.statuses if s >= 500], sorted(set(poller.statuses))
    leaked = [f for f in poller.frames if any(json.dumps(room) in f for room in leaks.rooms)]
    assert not leaked, leaked[:3]
    assert_no_tracebacks(fuzz_server)
    print(
        f"fuzz polling: statuses={sorted(set(poller.statuses))} frames={len(poller.frames)} reopened={poller.reopened}"
    )


def test_a_refused_long_polling_post_is_answered_at_once(world, fuzz_server, settings):
    """With no GET of its own in flight, a client whose POST is refused (too large) used to get no
    answer until the ping timeout: python-engineio waited for it to fetch the CLOSE packet
    (realtime/compat/engine.py). Now the POST gets its 400 at once and the session is over."""
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    body = '42["echo",{"n":1,"text":"' + "x" * (settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE + 1024) + '"}]'
    r = poller.http.post(poller._url(), data=body, timeout=5)  # it hung for ~20 s before
    assert r.status_code == 400
    r = poller.http.get(poller._url(), timeout=5)
    assert r.status_code == 400 and "Invalid session" in r.text
    poller.open()  # and the client can start again


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe42", "x", "4\x1e", "9hello", "\x1e\x1e", "4" + "[" * 3000],
    ids=["not-utf8", "no-packet-type", "empty-packet", "unknown-type", "only-separators", "json-too-deep"],
)
def test_an_undecodable_long_polling_body_is_refused_and_ends_the_session(world, fuzz_server, body):
    """python-engineio answered 200 to a body it could not decode (a traceback in the log, the
    packets gone): the client was told its packets arrived. Now it is a 400 and, as on a Node
    server's parse error, the session ends."""
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    r = poller.http.post(poller._url(), data=body, timeout=5)
    assert r.status_code == 400, (r.status_code, r.text)
    r = poller.http.get(poller._url(), timeout=5)
    assert r.status_code == 400 and "Invalid session" in r.text
    assert_no_tracebacks(fuzz_server)


def test_a_post_to_a_session_the_client_closed_gets_400_not_500(world, fuzz_server):
    """A CLOSE packet ("1") ends the session but leaves it in python-engineio's table; its POST
    path then raised KeyError("Session is disconnected") and the ASGI server answered 500."""
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    assert poller.http.post(poller._url(), data="1", timeout=5).status_code == 200
    for _ in range(3):
        r = poller.http.post(poller._url(), data='42["echo",{"n":1}]', timeout=5)
        assert r.status_code == 400, (r.status_code, r.text)
    assert_no_tracebacks(fuzz_server)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('42{"event":"echo"}', "invalid_event"),  # data is an object, not [name, ...]
        ("42[]", "invalid_event"),
        ('42["connect",{}]', "invalid_event"),
        ('42["echo",', "invalid_packet"),  # JSON cut short
        ("45-[]", "invalid_packet"),  # attachment count that is not a number
        ("44{}", "invalid_packet"),  # CONNECT_ERROR: only a server sends it
        ("49", "invalid_packet"),  # no such packet type
        ("42" + "[" * 3000, "invalid_packet"),  # JSON nested past the recursion limit
    ],
)
def test_a_malformed_socketio_packet_gets_an_error_event_and_the_connection_stays(world, fuzz_server, frame, code):
    """A packet python-socketio could not decode was logged as a traceback and dropped; one whose
    data was not a list raised in our own check. Both are now answered with an `error` event, and
    the connection still works."""
    raw = Raw(fuzz_server, world.token(world.alice))
    raw.open()
    raw.ws.send(frame)
    raw.drain(until=lambda f: f.startswith('42["error"'))
    error = json.loads(raw.frames[-1][2:])[1]
    assert error["code"] == code, error
    contract.check_outgoing("error", error, "/")
    raw.ws.send('42["echo",{"n":7}]')
    raw.drain(until=lambda f: f.startswith('42["test_event"') and '"n":7' in f)
    raw.close()
    assert_no_tracebacks(fuzz_server)


def test_a_burst_of_packets_in_one_long_polling_post_is_taken(world, fuzz_server):
    """python-engineio refuses more than 16 packets in one payload; its client and socket.io-client
    send more whenever more is queued while a POST is in flight. All 40 are handled."""
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    body = "\x1e".join(f'42["echo",{{"n":{n}}}]' for n in range(40))
    r = poller.http.post(poller._url(), data=body, timeout=5)
    assert r.status_code == 200, r.text
    echoed: set[int] = set()

    def got_all(frame: str) -> bool:
        if frame.startswith('42["test_event"'):
            echoed.add(json.loads(frame[2:])[1]["n"])
        return len(echoed) == 40

    poller.poll(until=got_all)
    assert_no_tracebacks(fuzz_server)


@pytest.mark.parametrize(
    "frame",
    ["", "x", "9", "bA", "4" + "[" * 3000],
    ids=["empty", "no-type", "unknown-type", "bad-base64", "json-too-deep"],
)
def test_an_undecodable_websocket_frame_closes_the_connection(world, fuzz_server, frame):
    """python-engineio raised out of its handler on these (a traceback; the session stayed open,
    with no disconnect, until the ping timeout). Now the transport is closed at once."""
    raw = Raw(fuzz_server, world.token(world.alice))
    raw.open()
    raw.ws.send(frame)
    raw.ws.settimeout(10)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:  # frames already on their way come first, then the close
            if raw.ws.recv() == "":
                raise websocket.WebSocketConnectionClosedException("closed")
    assert_no_tracebacks(fuzz_server)


def test_packets_after_the_clients_close_are_dropped_quietly(world, fuzz_server):
    """A client's CLOSE ("1") ends the session, but python-engineio still hands over the frames
    it reads behind it: a CONNECT there failed in python-socketio (KeyError on the session's
    environ, a traceback; the fuzzer found it). They are dropped: nobody is left to answer."""
    for _ in range(5):
        raw = Raw(fuzz_server, world.token(world.alice))
        raw.open()
        for frame in ("1", "40" + json.dumps({"token": raw.token}), '42["echo",{"n":1}]', "41"):
            try:
                raw.ws.send(frame)
            except (websocket.WebSocketConnectionClosedException, OSError):
                break
        raw.close()
    poller = Polling(fuzz_server, world.token(world.alice))
    poller.open()
    body = "\x1e".join(["1", "40" + json.dumps({"token": poller.token}), '42["echo",{"n":1}]'])
    assert poller.http.post(poller._url(), data=body, timeout=5).status_code == 200
    assert requests.get(fuzz_server.url + "/healthz", timeout=5).status_code == 200
    assert_no_tracebacks(fuzz_server)
