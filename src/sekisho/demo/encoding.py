"""JSON responses of the demo API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

# What Starlette's JSONResponse writes, from one encoder made once (JSONResponse's json.dumps makes one per response).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """`content` as an application/json response."""
    return Response(_ENCODER.encode(content).encode("utf-8"), status, headers, media_type="application/json")
