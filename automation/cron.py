"""Periodic work of the automation app, collected by project/cron.py."""

from automation.sweeper import sweep_stale_runs


def register_cron(register) -> None:
    register(sweep_stale_runs, queue_name="default", interval=60, job_timeout=120)
