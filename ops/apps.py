from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.conf import settings

        from ops import errorlog

        if settings.OPS_RECENT_ERRORS:
            errorlog.install()
