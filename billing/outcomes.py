"""What a seed 000 job ends with, and the two payload shapes its completion event carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    payload: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # machine-readable code when not ok
    created: bool = False  # this run made the change (False: refused, or a rerun that found it done)

    def event(self, username: str) -> dict[str, Any]:
        """Seed 000's success `{username, message, payload}` or error `{username, error, success:false, message}`."""
        if self.ok:
            return {"username": username, "message": self.message, "payload": self.payload}
        return {"username": username, "error": self.error, "success": False, "message": self.message}


def refused(code: str, message: str) -> Outcome:
    return Outcome(ok=False, message=message, error=code)
