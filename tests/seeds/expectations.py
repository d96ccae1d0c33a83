"""What each seed's client code expects of the server (shared/seeds/), one entry per expectation.

Each entry has exactly one test, `test_<id>` in tests/seeds/test_seed<NNN>.py, which runs the
seed's client code as written (placeholders filled: host, token, ids) against a real server and
worker. `differs` says why the product deliberately behaves otherwise, and `doc` is where that is
documented (a file and a piece of one of its lines); the test then asserts the documented
behaviour. docs/tools/render_seed_table.py renders this list into docs/clients.md.
"""

from __future__ import annotations

from dataclasses import dataclass

SEEDS = {
    "000": "game backend, JS client",
    "001": "monitoring dashboard, Python and JS clients",
    "002": "AI-agent job platform, JS client",
    "003": "automation portal, the run page's JS",
    "004": "multi-tenant ERP, JS client",
}
CLIENTS = {
    "000": "tests/seeds/node/seed000_client.mjs",
    "001": "tests/seeds/python/seed001_dashboard.py, tests/seeds/node/seed001_dashboard.mjs",
    "002": "realtime/tests/node/seed002_client.mjs",
    "003": "tests/seeds/node/seed003_page.mjs",
    "004": "tests/seeds/node/seed004_client.mjs",
}


@dataclass(frozen=True)
class Expectation:
    id: str
    seed: str
    expects: str
    differs: str = ""  # why the product does otherwise, on purpose
    doc: tuple[str, str] | None = None  # (file, a piece of the line that documents it)


CREDENTIALS = ("docs/clients.md", "1. **Authenticate on connect**")

EXPECTATIONS = [
    # --- 000: game backend ---
    Expectation(
        "s000_connect_as_written",
        "000",
        "`io('http://your-server:5000')` with no credentials connects",
        "credentials are required: the connection is refused with `connect_error` `{code: 'unauthenticated'}`; "
        "the rest of the seed's code runs with `auth: {token}` added",
        CREDENTIALS,
    ),
    Expectation("s000_join_room", "000", "`join_room {room: username}` is accepted (the player's own room)"),
    Expectation("s000_job_application_complete", "000", "`job_application_complete` carries `payload`, no `error`"),
    Expectation("s000_payment_complete", "000", "`payment_complete` carries `payload` on success"),
    Expectation("s000_payment_error", "000", "`payment_complete` carries `error` (and `message`) on failure"),
    Expectation("s000_liabilities_offset_complete", "000", "`liabilities_offset_complete` carries `payload`"),
    # --- 001: monitoring dashboard ---
    Expectation(
        "s001_broadcast",
        "001",
        "every connected client receives `statistics_update` (the seed broadcasts)",
        "statistics are for staff: they go to the `staff` room, which a staff client joins with "
        "`subscribe {room: 'staff'}`; other clients never receive them",
        ("docs/ops.md", "## statistics_update, every few seconds, to the staff room"),
    ),
    Expectation(
        "s001_python_fields",
        "001",
        "Python dashboard reads `total_attempts`, `successful_votes`, `failed_votes`, `active_instances` "
        "from `statistics_update`",
    ),
    Expectation("s001_node_fields", "001", "JS dashboard reads the same four fields from `statistics_update`"),
    Expectation(
        "s001_app_own_statistics",
        "001",
        "the application emits its own statistics dictionary as `statistics_update` (declared fields)",
    ),
    Expectation(
        "s001_status_update", "001", "`status_update` has `monitoring_active`, `loop_count`, `active_instances`"
    ),
    Expectation("s001_instances_update", "001", "`instances_update` has an `instances` list"),
    Expectation("s001_polling", "001", "the polling fallback gets the same numbers over HTTP (`GET /api/stats`)"),
    # --- 002: AI-agent job platform ---
    Expectation("s002_query_token", "002", "connects with `query: {token}`"),
    Expectation("s002_subscribe_project", "002", "`subscribe_project {project_id: 'project_456'}`"),
    Expectation("s002_agent_status", "002", "`agent_status` has `job_id`, `status` (running … success), `result`"),
    Expectation("s002_agent_progress", "002", "`agent_progress` has `job_id`, `progress` (to 100), `message`"),
    Expectation("s002_unsubscribe_project", "002", "`unsubscribe_project {project_id}` is accepted"),
    # --- 003: automation portal ---
    Expectation("s003_connect", "003", "the page's `io({transports, reconnection…})` connects with its session"),
    Expectation(
        "s003_start_without_csrf",
        "003",
        "`fetch('/start-automation', POST JSON)` with only a Content-Type header starts the run",
        "a session's JSON POST needs Django's CSRF header (`X-CSRFToken`); without it: 403 `csrf_failed`",
        ("docs/troubleshooting.md", "| 403 | `csrf_failed` |"),
    ),
    Expectation("s003_start", "003", "the start answer has `message` and no `error` (with the CSRF header)"),
    Expectation(
        "s003_progress_fields", "003", "`automation_progress` has `stage`, `message`, `percent`, `data`, `timestamp`"
    ),
    Expectation(
        "s003_stages",
        "003",
        "the stages the page switches on arrive, `initializing` … `complete` (progress events are throttled, so a "
        "fast `publishing` may be skipped), and the bar ends at 100%",
    ),
    Expectation("s003_ticker_cards", "003", "`data.ticker` with `data.success` true updates a ticker card"),
    Expectation(
        "s003_automation_error",
        "003",
        "`automation_error` has `error_type`, `message`, `recoverable` (a ticker with no price data)",
    ),
    Expectation("s003_ticker_card_error", "003", "`data.ticker` with `data.success` false marks its card `error`"),
    Expectation("s003_pause", "003", "`pause_automation {automation_id}` → `automation_paused {message}`"),
    Expectation("s003_resume", "003", "`resume_automation {automation_id}` → `automation_resumed {message}`"),
    # --- 004: multi-tenant ERP ---
    Expectation(
        "s004_connected",
        "004",
        "`io(host + '/ws', {path: '/socket.io', auth: {token}})` gets `connected {message, user_id, tenant_id}`",
    ),
    Expectation("s004_ping_pong", "004", "`ping` is answered by `pong`"),
    Expectation("s004_error_message", "004", "`error` carries `message`"),
    Expectation("s004_status_update", "004", "`/ws/provisioning` gets `status:update` with `progress`"),
    Expectation("s004_status_completed", "004", "`/ws/provisioning` gets `status:completed` with `erpnext_url`"),
    Expectation("s004_status_failed", "004", "`/ws/provisioning` gets `status:failed` with `error`"),
    Expectation("s004_notification_new", "004", "`/ws/notifications` gets `notification:new {title, message, type}`"),
    Expectation(
        "s004_notification_read", "004", "`notification_read {notification_id}` → `notification_read_confirmed`"
    ),
    Expectation(
        "s004_dart_root_provisioning",
        "004",
        "the Flutter client's one root socket receives `status:update` / `status:completed`",
        "provisioning events are sent in the `/provisioning` namespace only: connect a second socket to "
        "`/ws/provisioning`, as the seed's own JS client does",
        ("docs/clients.md", "Events for provisioning and billing are sent to your `tenant:{id}` room"),
    ),
]

BY_ID = {e.id: e for e in EXPECTATIONS}
