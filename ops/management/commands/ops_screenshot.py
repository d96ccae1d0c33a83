"""Screenshot of the live ops page under load (docs/screenshots/ops-page.png).

    python manage.py ops_screenshot --url http://127.0.0.1:8000 --clients 300 --rate 200

Against a running stack with the demo data (`make run`): it opens `--clients` Socket.IO
connections as the demo users (several namespaces and project rooms), publishes `--rate` events
per second, starts a few demo jobs, opens the page in headless chromium as the staff user `ops`,
waits for live statistics and writes the PNG."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand

from accounts.models import Project
from accounts.tokens import issue_jwt
from realtime.client import RealtimeClient
from realtime.emit import emit, project_room, user_room
from tools.browser import launch_chromium


class Command(BaseCommand):
    help = "Screenshot the live ops page under load."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--client-url", action="append", help="servers the clients use (default: --url)")
        parser.add_argument("--clients", type=int, default=300)
        parser.add_argument("--rate", type=int, default=200, help="events per second to publish")
        parser.add_argument("--jobs", type=int, default=6)
        parser.add_argument("--out", default=str(settings.BASE_DIR / "docs" / "screenshots" / "ops-page.png"))

    def handle(self, *args, **opts) -> None:
        User = get_user_model()
        users = {u.username: u for u in User.objects.filter(username__in=["alice", "bob", "carol", "ops"])}
        tokens = {name: issue_jwt(user=user) for name, user in users.items()}
        projects = {p.name: p for p in Project.objects.all()}
        clients = self._connect(opts["client_url"] or [opts["url"]], tokens, projects, opts["clients"])
        stop = threading.Event()
        load = threading.Thread(target=self._publish, args=(users, projects, opts["rate"], stop), daemon=True)
        load.start()
        self._jobs(users, projects, opts["jobs"])
        try:
            self._shoot(opts["url"], users["ops"], Path(opts["out"]))
        finally:
            stop.set()
            load.join(5)
            for client in clients:
                client.disconnect()
        self.stdout.write(f"wrote {opts['out']}")

    def _connect(self, urls: list[str], tokens: dict, projects: dict, count: int) -> list[RealtimeClient]:
        names = ["alice", "bob", "carol"]
        namespaces = [["/"], ["/", "/notifications"], ["/", "/provisioning", "/billing"]]
        clients = []
        for i in range(count):
            name = names[i % 3]
            client = RealtimeClient(
                urls[i % len(urls)], token=tokens[name], transports=["websocket"], reconnection=False
            )
            client.connect(namespaces=namespaces[i % 3])
            member_of = [p for p in projects.values() if p.members.filter(username=name).exists()] if i < 30 else []
            for project in member_of:
                client.call("subscribe_project", {"project_id": project.pk})
            clients.append(client)
        self.stdout.write(f"{len(clients)} clients connected")
        return clients

    def _publish(self, users: dict, projects: dict, rate: int, stop: threading.Event) -> None:
        rooms = [user_room(users[n].pk) for n in ("alice", "bob", "carol")] + [
            project_room(p.pk) for p in projects.values()
        ]
        n = 0
        while not stop.is_set():
            start = time.monotonic()
            for _ in range(max(1, rate // 10)):
                emit("test_event", {"n": n}, room=rooms[n % len(rooms)])
                n += 1
            stop.wait(max(0.0, 0.1 - (time.monotonic() - start)))  # paced load, ~rate per second

    def _jobs(self, users: dict, projects: dict, count: int) -> None:
        from jobs.services import enqueue_tracked

        for i in range(count):
            enqueue_tracked(
                "jobs.tasks.demo_job",
                kind="demo",
                project=projects.get("Apollo"),
                user=users["alice"],
                kwargs={"steps": 40, "step_seconds": 0.5, "fail_at": 3 if i == 0 else None},
            )

    def _shoot(self, url: str, staff, out: Path) -> None:
        from playwright.sync_api import expect, sync_playwright

        store = SessionStore()
        store[SESSION_KEY] = str(staff.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # ModelBackend (axes only checks)
        store[HASH_SESSION_KEY] = staff.get_session_auth_hash()
        store.save()
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1100})
                context.add_cookies([{"name": "sessionid", "value": store.session_key, "url": url}])
                page = context.new_page()
                page.goto(f"{url}/admin/ops/liveops/")
                expect(page.locator("#ops-link-text")).to_have_text("live (staff room)", timeout=15000)
                for _ in range(4):  # a few updates, so the sparkline has a history
                    before = page.locator("#ops-updated").text_content()
                    expect(page.locator("#ops-updated")).not_to_have_text(before, timeout=20000)
                if page.locator("#toggle-nav-sidebar").is_visible():
                    page.locator("#toggle-nav-sidebar").click()  # the page, not the admin's menu
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
            finally:
                browser.close()
