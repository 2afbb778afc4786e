"""GET /openapi.json: the hand-written OpenAPI 3.1 document of every route (openapi.json), with the issuer as server."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sekisho.server.web.requests import state
from sekisho.server.web.responses import CORS

DOCUMENT = Path(__file__).parent / "openapi.json"


@cache
def load() -> dict[str, Any]:
    """The document as written; tests/server/test_openapi.py keeps it valid and in step with app.py's routes."""
    document: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return document


def build_document(issuer: str) -> dict[str, Any]:
    return {**load(), "servers": [{"url": issuer}]}


async def openapi(request: Request) -> Response:
    body = build_document(state(request).settings.issuer)
    return JSONResponse(body, headers={**CORS, "Cache-Control": "public, max-age=300"})
