"""The Redis keys ops writes and reads (one place, so the writers and the collector agree)."""

from __future__ import annotations

PROCESS_PREFIX = "ops:proc:"  # + process id: one server process's own numbers (JSON, with a TTL)
PROCESSES = "ops:procs"  # sorted set: process id -> unix time its numbers expire
LEADER = "ops:stats-leader"  # the process that emits statistics_update (SET NX PX)
RECENT_ERRORS = "ops:errors"  # list of recent ERROR log records (JSON, newest first)
RECENT_ERRORS_MAX = 50
JOB_RUNS = "ops:job-runs"  # hash: every job execution per function and outcome (ops/job_runs.py)
APP_COUNTERS = "ops:app-counters"  # hash: counters apps increment for statistics_update (ops/app_stats.py)
