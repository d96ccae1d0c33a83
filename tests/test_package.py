"""The installable realtime package (docs/adopt.md): what its wheel holds, and what the package
says when the host project leaves out or gets wrong a setting it needs (realtime/host.py)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser

import pytest

from testing import BASE_DIR
from testing.wheel import build

HOST_SETTINGS = ("REALTIME_IDENTITY", "REALTIME_PROJECTS", "REALTIME_PROJECT_MODEL")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist"))


def test_the_wheel_holds_the_apps_their_migrations_contract_templates_and_static_files(built):
    wheel, sdist = built
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of realtime/ and jobs/ but their tests, migrations included
    expected = {
        str(path.relative_to(BASE_DIR))
        for app in ("realtime", "jobs")
        for path in (BASE_DIR / app).rglob("*.py")
        if "tests" not in path.relative_to(BASE_DIR).parts
    }
    assert expected - names == set(), "modules missing from the wheel (pyproject.toml's packages)"
    assert {"realtime/migrations/0001_outbox.py", "jobs/migrations/0001_initial.py"} <= names
    assert not any("/tests/" in name for name in names)
    assert {
        "realtime/py.typed",
        "jobs/py.typed",
        "realtime/contract/events.json",
        "realtime/contract/asyncapi.json",
        "realtime/templates/realtime/asyncapi.html",
        "realtime/static/js/realtime.js",
        "realtime/static/js/realtime-events.d.ts",
        "realtime/static/js/asyncapi_page.js",
        "realtime/static/vendor/socket.io-client/dist/socket.io.min.js",
        "realtime/static/vendor/@asyncapi/react-component/browser/standalone/index.js",
        "realtime/static/vendor/@asyncapi/react-component/styles/default.min.css",
    } <= names
    # no domain app and no module of this project's
    assert not {name.split("/")[0] for name in names} & {
        "accounts",
        "automation",
        "billing",
        "notifications",
        "ops",
        "project",
    }
    dist_info = next(name for name in names if name.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(dist_info).decode())
    assert meta["Name"] == "django-realtime-jobs"
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    assert all("<" in req and ">=" in req for req in requires), requires  # compatible ranges
    assert any(name.endswith("licenses/LICENSE") for name in names)
    with tarfile.open(sdist) as tar:
        assert any(name.endswith("/pyproject.toml") for name in tar.getnames())


def _setup_with(tmp_path, lines: str) -> subprocess.CompletedProcess:
    (tmp_path / "host_settings.py").write_text("from project.settings_test import *  # noqa\n" + lines)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{tmp_path}:{BASE_DIR}",
            "DJANGO_SETTINGS_MODULE": "host_settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", HOST_SETTINGS)
def test_a_missing_host_setting_stops_the_start_naming_it(tmp_path, name):
    out = _setup_with(tmp_path, f"del {name}\n")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured"), out.stderr[-2000:]
    assert name in last


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('REALTIME_IDENTITY = "nowhere.Identity"', "REALTIME_IDENTITY = 'nowhere.Identity' cannot be imported"),
        (
            'REALTIME_PROJECTS = "realtime.identity.IdentityBackend"',
            "must name a subclass of realtime.projects.ProjectRules",
        ),
        ('REALTIME_PROJECT_MODEL = "accounts"', "REALTIME_PROJECT_MODEL must be 'app_label.ModelName'"),
        ('REALTIME_PROJECT_MODEL = "accounts.Nothing"', "is not an installed model"),
        ('REALTIME_ROOMS = {"team": "nowhere.authorize"}', "REALTIME_ROOMS['team']"),
        ('SOCKETIO_ALLOWED_ORIGINS = ["*"]', "SOCKETIO_ALLOWED_ORIGINS must list the allowed origins explicitly"),
    ],
)
def test_a_wrong_host_setting_stops_the_start_saying_what_is_wrong(tmp_path, line, says):
    out = _setup_with(tmp_path, line + "\n")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured"), out.stderr[-2000:]
    assert says in last


def test_the_default_identity_backend_knows_sessions_only_and_says_so():
    from realtime.identity import IdentityBackend, TokenError

    (refused,) = IdentityBackend().users_for_jwts(["a.b.c"])
    assert isinstance(refused, TokenError) and refused.code == "jwt_not_accepted"
    assert IdentityBackend().tenant_of(object()) is None


def test_the_default_project_rules_name_projects_by_id_and_need_a_membership_rule():
    from realtime.projects import ProjectRules, UnknownProject

    rules = ProjectRules()
    assert rules.resolve("12", None) == 12
    with pytest.raises(UnknownProject):
        rules.resolve("project_x", None)
    with pytest.raises(NotImplementedError, match="member_project"):
        rules.member_project(1, 12)


# Settings the package reads that a host configures as it does for any Django project (Django's own,
# with Django's defaults, and django-rq's queues, which docs/adopt.md sets), and the host settings.
HOST_OWNED = {"AUTH_USER_MODEL", "SESSION_ENGINE", "RQ", "RQ_QUEUES", *HOST_SETTINGS, "REALTIME_ROOMS"}


def test_every_setting_the_package_reads_has_a_default_or_is_the_hosts():
    """A setting added to the package without a default breaks every host that does not set it
    (found when issue 11's REALTIME_REDIS_URL reached the adoption test)."""
    import re

    from realtime.defaults import DEFAULTS

    read: dict[str, str] = {}
    for package in ("realtime", "jobs"):
        for path in sorted((BASE_DIR / package).rglob("*.py")):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for name in re.findall(r"settings\.([A-Z][A-Z0-9_]+)", path.read_text()):
                read.setdefault(name, str(path.relative_to(BASE_DIR)))
    missing = {name: where for name, where in read.items() if name not in DEFAULTS and name not in HOST_OWNED}
    assert not missing, f"settings read by the package with no default in realtime/defaults.py: {missing}"
