"""docs/quickstart.md, run as it is written: its contract entry is merged into the contract of a
real worker, its job function (the doc's own text) runs in that worker, its enqueue call is the
doc's own, and its page (the doc's own HTML, rendered by Django) follows the job in Chromium over
the live server. Step 2's view needs the app's Report model, so it is only checked for names."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import partial
from types import SimpleNamespace

import django_rq
import pytest
from django.template import Context, Template

from jobs.models import JobRecord
from jobs.services import enqueue_tracked
from testing import BASE_DIR
from tools.browser import logged_in_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DOC = BASE_DIR / "docs" / "quickstart.md"
PRODUCT_APPS = {"accounts", "automation", "billing", "jobs", "notifications", "ops", "project", "realtime"}
# What the doc's job calls and leaves to the app: three parts to render.
APP_HELPERS = """

def parts_of(report_id):
    return ["summary", "figures", "appendix"]


def render(part):
    return part.upper()
"""
# Every text the page's status line shows, in order (the doc's page has no hook of its own).
WATCH_MSG = """
window.__texts = [];
new MutationObserver(() => {
  const m = document.getElementById("msg");
  if (m && m.textContent && window.__texts[window.__texts.length - 1] !== m.textContent) window.__texts.push(m.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.S | re.M)


def wait(page, condition: str, errors: list[str], timeout: float = 15000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, timeout=timeout)
    except PlaywrightTimeout:
        texts = page.evaluate("window.__texts")
        raise AssertionError(f"page never had {condition}: status texts {texts}, errors {errors}") from None


def test_its_code_names_only_what_the_product_has():
    python = blocks("python")
    assert len(python) == 4 and len(blocks("json")) == 1 and len(blocks("html")) == 1
    for code in python:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in PRODUCT_APPS:
                module = importlib.import_module(node.module)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert not missing, (node.module, missing)
    call = next(
        n
        for n in ast.walk(ast.parse(python[3]))
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "enqueue_tracked"
    )
    inspect.signature(enqueue_tracked).bind("f", **{k.arg: None for k in call.keywords})


def test_its_job_and_page_work_as_written(
    world, asgi_server, session_cookie, connect, private_queue, private_worker, tmp_path, monkeypatch, settings
):
    _view, _bursts, job_code, enqueue_code = blocks("python")
    (contract,) = blocks("json")
    (page_html,) = blocks("html")

    # Step 1: the doc's contract file, and step 3's job function as the app's module.
    (tmp_path / "events.json").write_text(contract)
    package = tmp_path / "app" / "reports"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(job_code + APP_HELPERS)

    # Step 3's enqueue call, as written, onto a queue only this test's worker takes (the
    # session's workers cannot import the app's module).
    monkeypatch.setitem(django_rq.settings.QUEUES, private_queue.name, dict(django_rq.settings.QUEUES["default"]))
    imports = "from jobs.services import enqueue_tracked\n"
    assert enqueue_code.startswith(imports)
    alice = connect(world.token(world.alice))
    scope = {
        "enqueue_tracked": partial(enqueue_tracked, queue=private_queue.name),
        "project": world.apollo,
        "request": SimpleNamespace(user=world.alice),
        "report": SimpleNamespace(pk=41),
    }
    exec(enqueue_code.removeprefix(imports), scope)  # noqa: S102 (the doc's code)
    record = scope["record"]
    assert JobRecord.objects.get(pk=record.pk).status == "queued"

    # Step 4's page, rendered by Django; the app's copy of replay-client.mjs is the example's.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    html = Template(page_html).render(Context({"job_id": record.pk, "project_id": world.apollo.pk}))
    replay_client = (BASE_DIR / "docs" / "examples" / "replay-client.mjs").read_text()
    cookie = session_cookie(world.alice)  # the ORM before playwright's loop runs in this thread
    with logged_in_page(asgi_server.url, cookie) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        )
        page.route(
            f"{asgi_server.url}/static/reports/replay-client.mjs",
            lambda route: route.fulfill(body=replay_client, content_type="text/javascript"),
        )
        # The page's document comes from the live server (a document Playwright made up
        # would not be on the server's address space, and Chromium's local-network checks
        # would refuse its WebSocket to 127.0.0.1); the doc's HTML is written into it.
        page.goto(f"{asgi_server.url}/healthz")
        page.evaluate(WATCH_MSG)
        page.set_content(f"<!doctype html><html><body>{html}</body></html>")
        # subscribed: the ack's snapshot is drawn while the job waits for a worker
        wait(page, "window.__texts.includes('queued')", errors)

        private_worker(
            private_queue, PYTHONPATH=str(tmp_path / "app"), REALTIME_CONTRACT_EXTRA=str(tmp_path / "events.json")
        )
        wait(page, "document.getElementById('msg').textContent === 'success'", errors, timeout=30000)
        texts = page.evaluate("window.__texts")
        bar = page.evaluate("document.getElementById('bar').value")

    print(f"quickstart page: status texts {texts}, bar {bar}")
    assert not errors, errors
    assert bar == 100
    assert texts[0] == "queued" and texts[-1] == "success", texts
    assert "part 3" in texts, texts  # the job's last progress was drawn before its end
    ready = alice.wait_for("report_ready", timeout=10)
    assert (ready["report_id"], ready["url"]) == (41, "/reports/41")
    record.refresh_from_db()
    assert (record.status, record.result) == ("success", {"report_id": 41})
