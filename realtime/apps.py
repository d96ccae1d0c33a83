from django.apps import AppConfig

from realtime import defaults

defaults.apply()  # before any module of the package reads a setting


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime (Socket.IO)"

    def ready(self) -> None:
        from realtime import contract, diagnostics, host, rooms

        host.configure()  # the host's identity, project rules and model: ImproperlyConfigured names a missing one
        rooms.register_host_rooms()

        for namespace in contract.namespaces():
            diagnostics.register_echo(namespace)
