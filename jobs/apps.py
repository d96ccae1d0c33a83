from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Tracked jobs"

    def ready(self) -> None:
        from jobs import rooms  # noqa: F401  (registers the job room and the project snapshot)
