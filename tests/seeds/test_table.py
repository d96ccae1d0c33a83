"""The compatibility suite's bookkeeping: every declared expectation has exactly one test, every
documented difference points at a line that exists, and docs/clients.md's table is current."""

from __future__ import annotations

import re
import subprocess
import sys

from testing import BASE_DIR

from .expectations import EXPECTATIONS, SEEDS


def test_each_expectation_has_exactly_one_test_and_each_test_an_expectation():
    declared = {e.id for e in EXPECTATIONS}
    assert len(declared) == len(EXPECTATIONS), "an expectation id is declared twice"
    for seed in SEEDS:
        source = (BASE_DIR / "tests" / "seeds" / f"test_seed{seed}.py").read_text()
        tests = re.findall(r"^def test_(s\d{3}_\w+)\(", source, re.MULTILINE)
        mine = sorted(e.id for e in EXPECTATIONS if e.seed == seed)
        assert sorted(tests) == mine, f"seed {seed}: tests {sorted(tests)} vs expectations {mine}"


def test_every_difference_is_documented_where_it_says():
    for e in EXPECTATIONS:
        if e.differs:
            assert e.doc, f"{e.id} differs without a doc reference"
            path, piece = e.doc
            assert piece in (BASE_DIR / path).read_text(), f"{e.id}: {path} no longer says {piece!r}"
            source = (BASE_DIR / "tests" / "seeds" / f"test_seed{e.seed}.py").read_text()
            body = source.split(f"def test_{e.id}(", 1)[1].split("\ndef ", 1)[0]
            assert path.removeprefix("docs/") in body, f"test_{e.id} should name the doc it checks ({path})"


def test_the_table_in_clients_md_is_current():
    out = subprocess.run(
        [sys.executable, "docs/tools/render_seed_table.py", "--check"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
