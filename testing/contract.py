"""Run in-process code under another REALTIME_CONTRACT_EXTRA (the contract is cached on load)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.test import override_settings


def _forget() -> None:
    from realtime import contract

    for cached in (contract.load, contract._index, contract._specs_named, contract.format_checker):
        cached.cache_clear()


@contextmanager
def extra_contract(*paths: Path) -> Iterator[None]:
    """The contract with these REALTIME_CONTRACT_EXTRA files merged in, within the block."""
    with override_settings(REALTIME_CONTRACT_EXTRA=[str(p) for p in paths]):
        _forget()
        try:
            yield
        finally:
            _forget()
    _forget()
