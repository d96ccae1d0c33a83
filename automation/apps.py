from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation runs and provisioning"

    def ready(self) -> None:
        from automation import realtime_hooks

        realtime_hooks.register()
