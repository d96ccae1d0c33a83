#!/usr/bin/env bash
# `make test`: the whole suite (pytest-django) against a private Redis the suite starts itself
# and the database in DATABASE_URL (SQLite by default; CI sets PostgreSQL); then the delivery tests
# a second time on python-socketio's own path (REALTIME_FASTPATH=0), so that both paths stay
# correct (docs/internals.md). With arguments: only `pytest ARGS`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/ruff check .
.venv/bin/python manage.py check --settings=project.settings_test
.venv/bin/python manage.py collectstatic --noinput -v0 --settings=project.settings_test
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest

# Delivery on python-socketio's own path: the fast path's tests, replay, rooms, long-polling, the
# Node client, two servers, Redis restart and server kill (about 4 min; the jobs-only tests of the
# Redis-restart file are left out).
FASTPATH_OFF_TESTS=(
  realtime/tests/test_fastpath.py
  realtime/tests/test_replay.py
  realtime/tests/test_replay_offline.py
  realtime/tests/test_replay_positions.py
  realtime/tests/test_rooms.py
  realtime/tests/test_polling_transport.py
  realtime/tests/test_node_client.py
  realtime/tests/test_namespace_aliases.py
  tests/test_two_servers.py
  tests/test_fault_redis_restart.py
  tests/test_fault_server_kill.py
  --deselect tests/test_fault_redis_restart.py::test_it_recovers_a_job_whose_queue_state_was_lost
  --deselect tests/test_fault_redis_restart.py::test_the_cron_scheduler_rides_out_redis_outages
)
echo "== the delivery tests again with REALTIME_FASTPATH=0 (python-socketio's own path) =="
exec env REALTIME_FASTPATH=0 .venv/bin/python -m pytest "${FASTPATH_OFF_TESTS[@]}"
