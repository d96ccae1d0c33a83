"""Every JSON endpoint of the project, found in the URLconf (so a new one is swept and fuzzed
without being listed): the routes under api/ and start-automation, with their methods."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from accounts.http import is_api_path

PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Endpoint:
    route: str  # as in the URLconf: api/bank/<str:username>
    methods: tuple[str, ...]
    anonymous: bool

    def path(self, **values: object) -> str:
        """The route with its parameters filled in: `values` by name, else 1 or "x"."""

        def fill(match: re.Match) -> str:
            name = match["name"]
            return str(values.get(name, 1 if match["converter"] == "int" else "x"))

        return "/" + PARAM.sub(fill, self.route)


def is_json_route(route: str) -> bool:
    return is_api_path("/" + route)


def url_routes(patterns, prefix: str = ""):
    """(route, view) of every URL pattern under `patterns`, includes flattened."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from url_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def json_routes() -> list[tuple[str, object]]:
    return [(route, callback) for route, callback in url_routes(get_resolver().url_patterns) if is_json_route(route)]


def json_endpoints() -> list[Endpoint]:
    """Every JSON route; one not built with accounts.http.api_view is an AssertionError."""
    found = []
    for route, callback in json_routes():
        methods = getattr(callback, "api_methods", None)
        assert methods, f"{route} is not an @api_view endpoint: its errors would not be JSON"
        found.append(Endpoint(route, tuple(methods), bool(callback.api_anonymous)))
    return found
