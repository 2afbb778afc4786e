"""Probes for orchestrators: GET /healthz (the process answers) and GET /readyz (and its database does)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sekisho.errors import TemporarilyUnavailable
from sekisho.server.web.requests import state

log = logging.getLogger("sekisho")
NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    """Alive: no database involved, so a database outage does not get the process restarted."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    """Ready for traffic: the database answers a trivial query."""
    try:
        await state(request).store.ping()
    except Exception as error:  # any failure to reach the database means: not ready (and never a 500)
        log.info("readyz: the database does not answer (%s)", type(error).__name__)
        headers = {**NO_STORE, "Retry-After": str(TemporarilyUnavailable.retry_after)}
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503, headers=headers)
    return JSONResponse({"status": "ready", "database": "ok"}, headers=NO_STORE)
