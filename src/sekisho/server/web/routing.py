"""Routing by a table lookup: Starlette's Router, but a request for a fixed path goes straight to its routes.

Starlette's Router tries every route's regex in order until one matches (docs/performance.md says what that scan
costs); a path without parameters can be looked up in a dict instead. The answer must be the one the scan would give:
a fixed path is indexed only if no route before its own could also match it, and whatever the index cannot decide (a
method the path's routes do not take: 405; a path not in the table) goes to the scan, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(routes, **kwargs)
        self.fixed = index_fixed_paths(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Keyed by the raw path: behind a root_path the lookup misses and the scan decides, as ever.
        if scope["type"] == "http" and (candidates := self.fixed.get(scope["path"])):
            for route in candidates:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def index_fixed_paths(routes: Sequence[BaseRoute]) -> dict[str, list[Route]]:
    """Each parameterless path → its routes, in table order; left out if an earlier route of another path matches it."""
    fixed: dict[str, list[Route]] = {}
    shadowed: set[str] = set()
    for position, route in enumerate(routes):
        if not isinstance(route, Route) or route.param_convertors or route.path in shadowed:
            continue
        earlier = routes[:position]
        if any(_path_of(other) != route.path and _matches_path(other, route.path) for other in earlier):
            shadowed.add(route.path)
            fixed.pop(route.path, None)
            continue
        fixed.setdefault(route.path, []).append(route)
    return fixed


def _path_of(route: BaseRoute) -> str | None:
    return route.path if isinstance(route, Route) else None


def _matches_path(route: BaseRoute, path: str) -> bool:
    regex = getattr(route, "path_regex", None)
    return regex is None or regex.match(path) is not None
