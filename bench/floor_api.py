"""The floor of sekisho's stack: the least a token endpoint on Starlette + uvicorn (+ asyncpg) does per request.

Issue 6 gives figures measured once as "the floor to beat": a bare Starlette form POST, and a raw asyncpg INSERT
per request. This app measures both on the machine of the run, beside everything else, so that sekisho's figures
can be read against what its stack allows: POST /oauth/token reads the form body, makes a random token, and answers
RFC 6749's JSON with no-store; with `FLOOR_DATABASE` set it also INSERTs the token's SHA-256 digest into
PostgreSQL before answering: one durable autocommit statement on one of ten asyncpg connections handed out by a
bare queue (asyncpg's own pool costs more per statement, and so would not be the floor). It checks no client, no
scope and no grant: no authorization server could do less.

    FLOOR_DATABASE=postgresql://... python -m uvicorn bench.floor_api:from_environment --factory
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TABLE = """CREATE TABLE IF NOT EXISTS floor_tokens (
    digest text PRIMARY KEY, client_id text NOT NULL, scope text NOT NULL, created_at bigint NOT NULL,
    expires_at bigint NOT NULL)"""
INSERT = "INSERT INTO floor_tokens (digest, client_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"
HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def create_app(database: str | None) -> Starlette:
    connections: asyncio.Queue[Any] | None = None

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400, headers=HEADERS)
        access_token = secrets.token_urlsafe(32)
        scope = form.get("scope", "")
        if connections is not None:
            now = int(time.time())
            digest = hashlib.sha256(access_token.encode()).hexdigest()
            connection = await connections.get()
            try:
                await connection.execute(INSERT, digest, "floor", scope, now, now + 3600)
            finally:
                connections.put_nowait(connection)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        return JSONResponse(body, headers=HEADERS)

    async def healthz(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal connections
        opened = []
        if database is not None:
            import asyncpg

            opened = [await asyncpg.connect(database) for _ in range(10)]
            await opened[0].execute(TABLE)
            connections = asyncio.Queue()
            for connection in opened:
                connections.put_nowait(connection)
        try:
            yield
        finally:
            for connection in opened:
                await connection.close()

    return Starlette(
        routes=[Route("/oauth/token", token, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )


def from_environment() -> Starlette:
    """The factory for `uvicorn --factory bench.floor_api:from_environment`."""
    return create_app(os.environ.get("FLOOR_DATABASE") or None)
