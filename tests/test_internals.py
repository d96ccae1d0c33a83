"""The inventory of other packages' internals (realtime/compat/internals.py, docs/internals.md): every item
holds against the installed versions, every private name of another package used in the code is
an item, no item is stale, and the page is current."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from project import internals
from testing import BASE_DIR

ITEMS = internals.registry()


@pytest.mark.parametrize("item", ITEMS, ids=[i.key for i in ITEMS])
def test_the_installed_library_still_has_it_in_the_shape_relied_on(item):
    assert internals.problem(item) is None


def test_every_private_name_of_another_package_used_in_the_code_is_an_item():
    uses = internals.scan()
    assert uses, "the scan finds the overrides in realtime/compat/"
    missing = internals.unregistered(uses, ITEMS)
    assert not missing, "add these to an inventory module (docs/internals.md says how):\n" + "\n".join(
        f"  {u.path}:{u.line} {u.name} ({u.how})" for u in missing
    )


@pytest.mark.parametrize("item", ITEMS, ids=[i.key for i in ITEMS])
def test_the_item_is_still_used_where_it_says(item):
    found = {path for path, _ in internals.locations(item)}
    assert found == set(item.where), f"{item.key}: none of {item.markers} in {sorted(set(item.where) - found)}"


def test_items_are_unique_and_their_libraries_pinned():
    assert len({i.key for i in ITEMS}) == len(ITEMS)
    pins = internals.pinned()
    for item in ITEMS:
        assert item.library.lower() in pins, f"{item.key}: {item.library} is not pinned in requirements.txt"


def test_the_fast_path_was_verified_with_the_pinned_versions():
    from realtime.compat import guard

    pins = internals.pinned()
    assert {d: pins[d.lower()] for d in guard.VERIFIED_WITH} == guard.VERIFIED_WITH
    libraries = {i.library for i in ITEMS if i.fastpath}
    assert libraries <= set(guard.VERIFIED_WITH)


def test_the_page_is_current():
    out = subprocess.run(
        [sys.executable, "docs/tools/render_internals.py", "--check"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


# --- the machinery can fail (pure logic, on the installed libraries' real classes) ---------------


def test_a_failing_check_names_the_library_its_version_and_the_item():
    def check() -> None:
        internals.method("socketio.AsyncServer._send_packet", ["self", "sid", "packet"])

    item = internals.Item("python-socketio", "socketio.AsyncServer._send_packet", "calls", (), "", "", check)
    message = internals.problem(item)
    assert message is not None
    assert message.startswith(f"python-socketio {internals.version('python-socketio')}: ")
    assert "socketio.AsyncServer._send_packet" in message and "expected (self, sid, packet" in message


@pytest.mark.parametrize(
    "check, complaint",
    [
        (lambda: internals.attribute("twisted.internet.tcp.Connection", "_gone"), "no longer has the attribute"),
        (lambda: internals.method("rq.cron.CronScheduler.start", ["self"], coroutine=True), "no longer a coroutine"),
        (lambda: internals.source_has("daphne.server.Server.create_application", "send=protocol.send"), "no longer"),
        (lambda: internals.resolve("engineio.async_drivers.asgi.NoSuchThing"), "has no NoSuchThing"),
    ],
)
def test_the_check_helpers_refuse_what_is_not_there(check, complaint):
    with pytest.raises(internals.Drift, match=complaint):
        check()


def test_the_scan_finds_overrides_self_uses_and_reads_of_other_objects():
    """A new reach into a library, in the shape helpers add them, is found and reported."""
    source = """
import socketio

class RealtimeServer(socketio.AsyncServer):
    async def _trigger_event(self, event, namespace, *args):
        return self._binary_packet

def slow_consumer(transport):
    return transport._tempDataLen + getattr(transport, "_unknownField", 0)
"""
    path = "realtime/compat/socketio_server.py"  # the class resolves to the real RealtimeServer
    uses = internals.scan_trees({path: ast.parse(source)})
    found = {(u.name, u.how) for u in uses}
    assert found == {
        ("_trigger_event", "override"),
        ("_binary_packet", "attribute"),
        ("_tempDataLen", "attribute"),
        ("_unknownField", "string"),
    }
    # _binary_packet is an item for that file; _tempDataLen is one, but for fastpath.py
    assert [u.name for u in internals.unregistered(uses, ITEMS)] == ["_trigger_event", "_tempDataLen", "_unknownField"]
