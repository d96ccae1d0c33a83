"""Periodic work of the jobs app, collected by project/cron.py (`manage.py runcron project.cron`)."""

from django.conf import settings

from jobs.reaper import reap_job


def register_cron(register) -> None:
    # Run by any free worker: dead workers' jobs, dead schedulers' locks, jobs lost from Redis.
    register(
        reap_job, queue_name="default", interval=settings.JOBS_REAP_INTERVAL_SECONDS, job_timeout=60, result_ttl=60
    )
