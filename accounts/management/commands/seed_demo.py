from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create or refresh the demo tenants, users, projects and each app's demo data."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users: dict = {}
        lines = import_module("accounts.demo").seed(users)
        for config in apps.get_app_configs():
            if config.name == "accounts":
                continue
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            lines += module.seed(users) or []
        self.stdout.write("Demo logins:")
        for line in lines:
            self.stdout.write(line)
