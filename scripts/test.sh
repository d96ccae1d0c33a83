#!/usr/bin/env bash
# `make test`: the whole suite (pytest-django) against a private Redis the suite starts itself
# and the database in DATABASE_URL (SQLite by default; CI sets PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/ruff check .
.venv/bin/python manage.py check --settings=project.settings_test
.venv/bin/python manage.py collectstatic --noinput -v0 --settings=project.settings_test
exec .venv/bin/python -m pytest "$@"
