"""GET /openapi.json: the hand-written OpenAPI 3.1 document of every route (openapi.json), with the issuer as server
and only the paths this app serves (the demo's are left out when it is not mounted)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from sekisho.server.web.requests import state
from sekisho.server.web.responses import CORS

DOCUMENT = Path(__file__).parent / "openapi.json"


@cache
def load() -> dict[str, Any]:
    """The document as written; tests/server/test_openapi.py keeps it valid and in step with app.py's routes."""
    document: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return document


def build_document(issuer: str, served: Collection[str] | None = None) -> dict[str, Any]:
    """The document for `issuer`; with `served` (OpenAPI path templates), only those paths."""
    document = load()
    paths = document["paths"] if served is None else {p: i for p, i in document["paths"].items() if p in served}
    return {**document, "paths": paths, "servers": [{"url": issuer}]}


def served_paths(routes: Iterable[BaseRoute]) -> set[str]:
    """The OpenAPI path templates of `routes`: Starlette's `{name:converter}` as `{name}`, a mount as `/…/{file}`."""
    found = set()
    for route in routes:
        if isinstance(route, Mount):
            found.add(route.path + "/{file}")
        elif isinstance(route, Route):
            found.add(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
    return found


async def openapi(request: Request) -> Response:
    body = build_document(state(request).settings.issuer, served_paths(request.app.routes))
    return JSONResponse(body, headers={**CORS, "Cache-Control": "public, max-age=300"})
