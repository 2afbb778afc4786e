"""Notes over MCP: an MCP server (the official Python SDK's `MCPServer`) whose tools post and list the signed-in
user's notes, with every request's access token checked by `sekisho.resource`.

The SDK does the MCP side of the authorization spec: 401 with `resource_metadata` in the challenge, and RFC 9728
protected resource metadata naming the sekisho server. sekisho does the rest: discovery (RFC 8414), dynamic
registration or a client ID metadata document, login and consent, PKCE, tokens bound to this server by RFC 8707
`resource`, refresh. Here a `JwtVerifier` checks each token's signature, issuer, expiry and audience, which must
be this server's URL: a token the user gave another app (or sekisho's own demo API) is refused.

The notes are those of `sekisho serve --demo`, on each user's page `/@NAME`: this server writes them to the same
database, as a service's own MCP endpoint writes to its own backend. It never sends the user's token on to
another API (the MCP authorization spec forbids token passthrough). Run it as README.md shows.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import Field
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from sekisho.demo.notes import MAX_TEXT
from sekisho.demo.store import NotesStore
from sekisho.errors import InvalidToken
from sekisho.resource import JwtVerifier, TokenVerifier, VerifierUnavailable
from sekisho.resource.starlette import error_response
from sekisho.server.entities import Note, User
from sekisho.server.ids import new_id
from sekisho.server.store.driver import Query
from sekisho.server.store.sql import SqlStore

SCOPES = ["read:account", "write:notes"]  # asked for by clients (from the metadata below) and required of tokens
LISTED = 20  # notes list_notes returns, newest first


class SekishoTokens:
    """The SDK's `TokenVerifier` over a `sekisho.resource` one that checks the audience: an invalid token is None
    (the SDK answers 401 with its challenge); a valid one names its user as `subject`.

    A token that cannot be checked (sekisho unreachable: `VerifierUnavailable`) must be a 503, not the 500 the SDK's
    app would make of the exception, nor a 401 that sends the client through a new sign-in. So `guard` checks the
    token in front of the SDK's app, answers 503 itself, and hands its result to `verify_token` for that request.
    """

    def __init__(self, verifier: TokenVerifier, resource: str) -> None:
        self.verifier = verifier
        self.resource = resource
        self._checked: ContextVar[tuple[str, AccessToken | None] | None] = ContextVar("checked", default=None)

    async def verify_token(self, token: str) -> AccessToken | None:
        checked = self._checked.get()
        if checked is not None and checked[0] == token:
            return checked[1]
        return await self.check(token)

    async def check(self, token: str) -> AccessToken | None:
        try:
            info = await self.verifier.verify(token)
        except InvalidToken:
            return None
        return AccessToken(
            token=token,
            client_id=info.client_id,
            scopes=list(info.scope),
            expires_at=info.expires_at,
            resource=self.resource,  # the verifier refused every other audience
            subject=info.user_id,
        )

    def guard(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            header = Headers(scope=scope).get("authorization", "") if scope["type"] == "http" else ""
            if not header.lower().startswith("bearer "):
                await app(scope, receive, send)
                return
            token = header[7:]  # as the SDK's BearerAuthBackend reads it
            try:
                checked = await self.check(token)
            except VerifierUnavailable as error:
                await error_response(error)(scope, receive, send)
                return
            reset = self._checked.set((token, checked))
            try:
                await app(scope, receive, send)
            finally:
                self._checked.reset(reset)

        return guarded


@dataclass(frozen=True)
class Settings:
    issuer: str  # the sekisho server
    url: str  # this MCP endpoint's public URL: the resource tokens are bound to
    database: str  # sekisho serve's database, whose demo notes these are


class Notes:
    """The demo's notes of the token's user."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SqlStore(settings.database)
        self.notes: NotesStore

    async def connect(self) -> None:
        await self.store.connect(migrate_schema=False)  # sekisho serve made the schema
        self.notes = NotesStore(self.store, prepare)

    async def user(self) -> User:
        token = get_access_token()  # set by the SDK's auth middleware for this request
        user = await self.store.users.find(token.subject) if token and token.subject else None
        if user is None:
            raise ValueError("this token does not act for a user")
        return user

    async def post(self, text: str) -> dict[str, Any]:
        user = await self.user()
        now = time.time()
        note = Note(new_id(int(now * 1000)), user.id, text, "public", None, int(now), None, False)
        await self.notes.add_note(note)
        return {"id": note.id, "text": note.text, "url": f"{self.settings.issuer}/@{user.username}"}

    async def listed(self) -> list[dict[str, Any]]:
        user = await self.user()
        mine = await self.notes.list_user_notes(user.id)
        return [{"id": note.id, "text": note.text, "created_at": note.created_at} for note in mine[:LISTED]]


def prepare(statement: Any) -> Query:
    """A statement compiled once per dialect, as the store's connections run them."""
    return Query(statement)


def create_server(settings: Settings, tokens: SekishoTokens) -> tuple[MCPServer, Notes]:
    notes = Notes(settings)
    server = MCPServer(
        "sekisho notes",
        instructions="Post notes as the signed-in user, and list their latest notes.",
        token_verifier=tokens,
        # validated from strings: an issuer without a path keeps no trailing slash (RFC 8414 compares it exactly)
        auth=AuthSettings.model_validate(
            {
                "issuer_url": settings.issuer,  # named in the protected resource metadata
                "resource_server_url": settings.url,
                "required_scopes": SCOPES,
                "validate_token_resource": False,  # the JwtVerifier checks the audience itself
            }
        ),
    )

    @server.tool()
    async def post_note(text: str = Field(min_length=1, max_length=MAX_TEXT)) -> dict[str, Any]:
        """Post a public note as the signed-in user; returns its id and the user's page."""
        return await notes.post(text)

    @server.tool()
    async def list_notes() -> list[dict[str, Any]]:
        """The signed-in user's latest notes, newest first."""
        return await notes.listed()

    return server, notes


def create_app(settings: Settings, verifier: TokenVerifier) -> Starlette:
    """The MCP endpoint at the path of `settings.url`, its protected resource metadata at
    /.well-known/oauth-protected-resource{path}."""
    tokens = SekishoTokens(verifier, settings.url)
    server, notes = create_server(settings, tokens)
    path = "/" + settings.url.split("://", 1)[1].partition("/")[2]
    mcp = server.streamable_http_app(streamable_http_path=path, stateless_http=True, json_response=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await notes.connect()
        try:
            async with mcp.router.lifespan_context(mcp):
                yield
        finally:
            await notes.store.close()
            close = getattr(verifier, "aclose", None)
            if close is not None:
                await close()

    return Starlette(routes=[Mount("/", app=tokens.guard(mcp))], lifespan=lifespan)


def jwt_verifier(settings: Settings) -> JwtVerifier:
    """sekisho serve --access-token-format jwt: tokens checked against the server's keys, no call per request."""
    return JwtVerifier(f"{settings.issuer}/oauth/jwks", issuer=settings.issuer, audience=settings.url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--issuer", default=os.environ.get("SEKISHO_ISSUER", "http://127.0.0.1:8000"))
    parser.add_argument("--database", default=os.environ.get("SEKISHO_DATABASE", "sqlite:///sekisho.db"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--url", help="this server's public MCP URL (default http://HOST:PORT/mcp)")
    args = parser.parse_args(argv)
    settings = Settings(
        issuer=args.issuer.rstrip("/"),
        url=args.url or f"http://{args.host}:{args.port}/mcp",
        database=args.database,
    )
    print(f"MCP server on {settings.url}, protected by {settings.issuer}", flush=True)
    uvicorn.run(create_app(settings, jwt_verifier(settings)), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
