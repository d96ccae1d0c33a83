"""Database ids from the outside world (JSON bodies, socket events, room names): one parser for
every app, so "an id is a string of digits" means the same everywhere."""

from __future__ import annotations

from typing import Any

# A BigAutoField holds 18 digits safely (2**63 - 1 has 19): longer is refused before it reaches
# the database, where it would overflow (an error, not "not found").
MAX_ID_DIGITS = 18


def parse_id(raw: Any, *, strings: bool = True) -> int | None:
    """The id `raw` stands for (an int, or with `strings` a string of ASCII digits; at most 18
    digits, no sign), else None. Booleans are not ids. 0 parses: it is simply no row's id."""
    if isinstance(raw, bool) or not isinstance(raw, int | str) or (isinstance(raw, str) and not strings):
        return None
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)
