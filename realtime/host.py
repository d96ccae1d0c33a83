"""What the host project provides, named by settings and resolved once, when the app starts:

- REALTIME_IDENTITY      dotted path to a realtime.identity.IdentityBackend subclass (or the class
                         itself: Django sessions only);
- REALTIME_PROJECTS      dotted path to a realtime.projects.ProjectRules subclass;
- REALTIME_PROJECT_MODEL "app_label.ModelName" of the host's project model;
- REALTIME_ROOMS         optional {room kind: dotted path to `async authorize(identity, key) -> bool`}
                         for more room kinds (apps may also call realtime.rooms.register).

SOCKETIO_ALLOWED_ORIGINS has a development default (localhost:8000) but may not be [] or '*'.
A missing or wrong setting stops the start with ImproperlyConfigured naming it (and a failing
`manage.py check`), never an ImportError from deep inside."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from realtime.identity import IdentityBackend
from realtime.projects import ProjectRules

_resolved: dict[str, Any] = {}


def _required(name: str, example: str) -> Any:
    value = getattr(settings, name, None)
    if not value:
        raise ImproperlyConfigured(f"the realtime package needs the setting {name} (for example {name} = {example!r})")
    return value


def _instance(name: str, base: type, example: str) -> Any:
    path = _required(name, example)
    try:
        cls = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name} = {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ImproperlyConfigured(f"{name} = {path!r} must name a subclass of {base.__module__}.{base.__qualname__}")
    return cls()


def project_model_label() -> str:
    """REALTIME_PROJECT_MODEL, read when jobs' models are defined (before the apps are ready)."""
    label = _required("REALTIME_PROJECT_MODEL", "myapp.Project")
    if not isinstance(label, str) or label.count(".") != 1:
        raise ImproperlyConfigured(f"REALTIME_PROJECT_MODEL must be 'app_label.ModelName', not {label!r}")
    return label


def configure() -> None:
    """Resolve every host setting (RealtimeConfig.ready); raises ImproperlyConfigured."""
    from django.apps import apps

    _resolved["identity"] = _instance("REALTIME_IDENTITY", IdentityBackend, "realtime.identity.IdentityBackend")
    _resolved["projects"] = _instance("REALTIME_PROJECTS", ProjectRules, "myapp.realtime.Projects")
    label = project_model_label()
    try:
        apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise ImproperlyConfigured(f"REALTIME_PROJECT_MODEL = {label!r} is not an installed model: {exc}") from exc
    rooms: dict[str, Any] = {}
    for kind, path in (getattr(settings, "REALTIME_ROOMS", None) or {}).items():
        try:
            rooms[kind] = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"REALTIME_ROOMS[{kind!r}] = {path!r} cannot be imported: {exc}") from exc
    _resolved["rooms"] = rooms
    origins = settings.SOCKETIO_ALLOWED_ORIGINS
    if not origins or "*" in origins:
        # [] would turn python-engineio's origin check off and '*' allows every site
        raise ImproperlyConfigured(
            "SOCKETIO_ALLOWED_ORIGINS must list the allowed origins explicitly (never [] or '*')"
        )


def _get(key: str) -> Any:
    if key not in _resolved:
        configure()
    return _resolved[key]


def identity() -> IdentityBackend:
    return _get("identity")


def projects() -> ProjectRules:
    return _get("projects")


def extra_rooms() -> dict[str, Any]:
    return _get("rooms")
