"""`make upgrade-check`: the upgrade canary (docs/internals.md).

Builds a separate virtualenv (var/upgrade-venv) with the pinned requirements, upgrades the
libraries whose internals the product relies on to the newest versions PyPI has (Django within
5.2.x), runs the inventory checks and tests, then the realtime suite there, and prints a table:
package, pinned, newest, pass/fail.

A package fails when one of its inventory items fails its check against the newest version (the
table names the items); the suite's result is the last line. The fast path runs when its checks
pass (REALTIME_FASTPATH_VERIFIED_ONLY=0), so the suite exercises it on the new versions.

    python scripts/upgrade_check.py [--keep] [--suite PATHS...]

--keep installs into the existing var/upgrade-venv instead of building it anew; --suite replaces
the realtime suite's paths."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from project.internals import pinned  # noqa: E402

VENV = ROOT / "var" / "upgrade-venv"
REPORT = ROOT / "var" / "upgrade-check.json"

# distribution (as pinned in requirements.txt) -> what to ask pip for
UPGRADED = {
    "python-socketio": "python-socketio",
    "python-engineio": "python-engineio",
    "daphne": "daphne",
    "autobahn": "autobahn",
    "Twisted": "Twisted",
    "channels": "channels",
    "channels_redis": "channels-redis",
    "rq": "rq",
    "django-rq": "django-rq",
    "redis": "redis",
    "Django": "Django>=5.2,<5.3",
}
SUITE = ["tests/test_internals.py", "realtime/tests"]

# Run in the upgraded venv: each inventory item's check, and the installed versions.
PROBE = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_test")
django.setup()
from project import internals
names = json.loads(os.environ["UPGRADE_CHECK_PACKAGES"])
print(json.dumps({
    "versions": {name: internals.version(name) for name in names},
    "problems": [[item.library, item.name, internals.problem(item)] for item in internals.registry()],
}))
"""


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("$", " ".join(str(a) for a in args), flush=True)
    return subprocess.run(args, cwd=ROOT, **kwargs)


def build(fresh: bool) -> None:
    """The venv with requirements.txt, except the packages under test at their newest (one pip
    resolve, so their dependencies move with them). Without `fresh`, into the existing venv."""
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    if not VENV.exists():
        python = shutil.which("python3.11") or sys.executable
        run([python, "-m", "venv", str(VENV)], check=True)
    upgraded = {name.lower() for name in UPGRADED}
    kept = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and line.split("==")[0].strip().lower() not in upgraded
    ]
    requirements = VENV / "requirements-upgrade.txt"
    requirements.write_text("\n".join([*kept, *UPGRADED.values()]) + "\n")
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "--upgrade", "-r", str(requirements)], check=True)


def probe() -> dict:
    env = {**os.environ, "UPGRADE_CHECK_PACKAGES": json.dumps(list(UPGRADED)), "PYTHONPATH": str(ROOT)}
    out = run([str(VENV / "bin" / "python"), "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def suite(paths: list[str]) -> tuple[int, str, float]:
    env = {**os.environ, "REALTIME_FASTPATH_VERIFIED_ONLY": "0", "TEST_DB_TAG": "upgrade"}
    env.pop("REALTIME_FASTPATH", None)
    started = time.monotonic()
    out = run(
        [str(VENV / "bin" / "python"), "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-rfE"],
        env=env,
        capture_output=True,
        text=True,
    )
    (ROOT / "var" / "upgrade-check-pytest.log").write_text(out.stdout + out.stderr)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    summary = "\n".join(failed + lines[-1:])
    return out.returncode, summary, time.monotonic() - started


def table(result: dict, pinned: dict[str, str]) -> str:
    rows = ["| package | pinned | newest | result |", "| --- | --- | --- | --- |"]
    for name in UPGRADED:
        failing = [f"`{item}`: {problem}" for lib, item, problem in result["problems"] if lib == name and problem]
        items = [item for lib, item, _ in result["problems"] if lib == name]
        verdict = (
            "fail: " + "; ".join(failing)
            if failing
            else (f"pass ({len(items)} item{'s' * (len(items) != 1)})" if items else "pass")
        )
        old, new = pinned.get(name.lower(), "?"), result["versions"][name]
        rows.append(f"| {name} | {old} | {new}{'' if new != old else ' (same)'} | {verdict} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--suite", nargs="*", default=SUITE)
    args = parser.parse_args()
    build(fresh=not args.keep)
    result = probe()
    code, summary, seconds = suite(args.suite)
    text = table(result, pinned())
    result.update({"table": text, "suite": {"paths": args.suite, "exit": code, "summary": summary, "seconds": seconds}})
    REPORT.write_text(json.dumps(result, indent=2))
    print()
    print(text)
    print()
    print(f"suite ({' '.join(args.suite)}) with the newest versions, {seconds:.0f} s: " + summary.replace("\n", "\n  "))
    print(f"(full output: var/upgrade-check-pytest.log; this table: {REPORT.relative_to(ROOT)})")
    failed = code != 0 or any(problem for _, _, problem in result["problems"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
