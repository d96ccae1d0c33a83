"""Periodic work of the jobs app, collected by project/cron.py (`manage.py runcron project.cron`)."""

from jobs.reaper import reap_job


def register_cron(register) -> None:
    register(reap_job, queue_name="default", interval=15, job_timeout=60)
