from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.conf import settings

        from jobs.signals import job_ran
        from ops import errorlog, job_runs

        job_ran.connect(job_runs.on_job_ran, dispatch_uid="ops.job_runs")
        if settings.OPS_RECENT_ERRORS:
            errorlog.install()
