"""The realtime package's wheel, built as docs/adopt.md says (`python -m build`: the sdist, then
the wheel from it) from a copy of what the build reads, so the build writes nothing into the
repository (its egg-info) and two test processes never build in the same directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from testing import BASE_DIR

# What pyproject.toml and MANIFEST.in read (the mapped templates, static files, socket.io client).
SOURCES = [
    "pyproject.toml",
    "MANIFEST.in",
    "LICENSE",
    "docs/adopt.md",
    "realtime",
    "jobs",
    "templates/realtime",
    "static/js",
    "node_modules/socket.io-client/dist",
    "node_modules/@asyncapi/react-component/browser/standalone",
    "node_modules/@asyncapi/react-component/styles",
]


def build(out: Path) -> tuple[Path, Path]:
    """(wheel, sdist) built into `out`."""
    with tempfile.TemporaryDirectory(prefix="realtime-build-") as tmp:
        src = Path(tmp) / "src"
        for name in SOURCES:
            origin = BASE_DIR / name
            assert origin.exists(), f"{origin} is missing (node_modules: run `npm ci`, as make test does)"
            target = src / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "tests", "*.pyc"))
            else:
                shutil.copy(origin, target)
        out.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "build", "-o", str(out), str(src)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist
