"""project.ids.parse_id: what every app accepts as a database id (a unit test of pure logic)."""

from __future__ import annotations

import pytest

from project.ids import parse_id


@pytest.mark.parametrize(("raw", "expected"), [(7, 7), ("7", 7), ("007", 7), (0, 0), ("9" * 18, int("9" * 18))])
def test_it_parses_ids(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [True, False, None, -1, "-1", "+1", "1.0", 1.0, " 1", "", "1e3", "١٢", "²", "9" * 19, 10**19, [1], {"id": 1}],
)
def test_it_refuses_what_is_not_an_id(raw):
    assert parse_id(raw) is None


def test_json_only_ids_refuse_strings():
    assert parse_id(5, strings=False) == 5
    assert parse_id("5", strings=False) is None
