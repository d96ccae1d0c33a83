"""RQ cron configuration (`manage.py runcron project.cron`, started by `make run`;
see jobs/management/commands/runcron.py for why not django-rq's `rqcron`).

Each app that has periodic work keeps a `cron.py` with a `register_cron(register)` function;
this module collects them, so adding one does not touch this file."""

from importlib import import_module

from django.apps import apps
from rq import cron

for config in apps.get_app_configs():
    try:
        module = import_module(f"{config.name}.cron")
    except ModuleNotFoundError as exc:
        if exc.name != f"{config.name}.cron":
            raise
        continue
    if hasattr(module, "register_cron"):  # django_rq has a `cron` module of its own
        module.register_cron(cron.register)
