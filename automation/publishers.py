"""Where reports are published. One interface; the local publication store is the only
publisher today, and a WordPress publisher would be one more class (REST API, application
password from the profile) registered in PUBLISHERS under its profile kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from automation.models import Publication, PublishingProfile


class PublishError(Exception):
    def __init__(self, message: str, *, recoverable: bool) -> None:
        super().__init__(message)
        self.recoverable = recoverable


@dataclass(frozen=True)
class Published:
    post_id: str
    created: bool  # False: the post already existed under this key (a job that ran twice)


class Publisher(Protocol):
    def publish(self, *, key: str, profile: PublishingProfile, run_id: int, report: dict[str, Any]) -> Published: ...


class LocalPublisher:
    """Publishes into the Publication table; `key` makes it idempotent."""

    def publish(self, *, key: str, profile: PublishingProfile, run_id: int, report: dict[str, Any]) -> Published:
        existing = Publication.objects.filter(key=key).first()
        if existing is not None:
            return Published(f"local-{existing.pk}", created=False)
        if not profile.accepting:
            raise PublishError(f"the publication store of {profile.name!r} is not accepting posts", recoverable=True)
        post, created = Publication.objects.get_or_create(
            key=key,
            defaults={
                "profile": profile,
                "run_id": run_id,
                "ticker": report["ticker"],
                "title": f"{report['name']} ({report['ticker']}): {report['trend']}, {report['change_30d_pct']:+.2f}% in 30 days",
                "body": report["summary"],
            },
        )
        return Published(f"local-{post.pk}", created=created)


PUBLISHERS: dict[str, Publisher] = {PublishingProfile.Kind.LOCAL: LocalPublisher()}


def publisher_for(profile: PublishingProfile) -> Publisher:
    try:
        return PUBLISHERS[profile.kind]
    except KeyError:
        raise PublishError(f"no publisher for profile kind {profile.kind!r}", recoverable=False) from None
