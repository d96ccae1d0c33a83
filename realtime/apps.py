from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime (Socket.IO)"

    def ready(self) -> None:
        from realtime import contract, diagnostics

        for namespace in contract.namespaces():
            diagnostics.register_echo(namespace)
