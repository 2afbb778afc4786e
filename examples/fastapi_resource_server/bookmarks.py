"""Bookmarks: a small third-party API whose users sign in with a sekisho server.

It holds no passwords and no sessions: every request carries an access token, and `sekisho.resource` checks it,
either by asking the server (RFC 7662 introspection) or locally against the server's published keys (RFC 9068 JWT).
Run it as README.md shows; `create_app` takes any `TokenVerifier`, so tests and other setups can pass their own.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time, and `reader`
# and `writer` below are local to `create_app`.
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Security
from pydantic import BaseModel, Field, HttpUrl

from sekisho.resource import IntrospectionVerifier, JwtVerifier, TokenInfo, TokenVerifier
from sekisho.resource.fastapi import Bearer


class NewBookmark(BaseModel):
    url: HttpUrl
    title: str = Field(min_length=1, max_length=200)


class Bookmark(NewBookmark):
    id: int


def create_app(verifier: TokenVerifier) -> FastAPI:
    bearer = Bearer(verifier)
    reader = Annotated[TokenInfo, Security(bearer, scopes=["bookmark.read"])]
    writer = Annotated[TokenInfo, Security(bearer, scopes=["bookmark.write"])]
    saved: dict[str, list[Bookmark]] = {}  # kept in memory: this is an example

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        close = getattr(verifier, "aclose", None)
        if close is not None:
            await close()

    app = FastAPI(title="Bookmarks", lifespan=lifespan)

    @app.get("/bookmarks")
    async def list_bookmarks(token: reader) -> list[Bookmark]:
        return saved.get(owner(token), [])

    @app.post("/bookmarks", status_code=201)
    async def add_bookmark(new: NewBookmark, token: writer) -> Bookmark:
        mine = saved.setdefault(owner(token), [])
        bookmark = Bookmark(id=len(mine) + 1, **new.model_dump())
        mine.append(bookmark)
        return bookmark

    return app


def owner(token: TokenInfo) -> str:
    """Whose bookmarks: the user's, or the client's own when it acts for nobody (client_credentials)."""
    return token.user_id or f"client:{token.client_id}"


def verifier_from_environment(environ: dict[str, str] | None = None) -> TokenVerifier:
    """SEKISHO_ISSUER, BOOKMARKS_VERIFY (introspection or jwt), and for introspection BOOKMARKS_CLIENT_ID/_SECRET."""
    env = os.environ if environ is None else environ
    issuer = env["SEKISHO_ISSUER"]
    metadata: dict[str, Any] = (
        httpx.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=5).raise_for_status().json()
    )
    if env.get("BOOKMARKS_VERIFY", "introspection") == "jwt":
        # sekisho's JWT access tokens name the issuer as their audience.
        return JwtVerifier(metadata["jwks_uri"], issuer=metadata["issuer"], audience=metadata["issuer"])
    return IntrospectionVerifier(
        metadata["introspection_endpoint"], env["BOOKMARKS_CLIENT_ID"], env["BOOKMARKS_CLIENT_SECRET"]
    )


def from_environment() -> FastAPI:
    """The factory for `uvicorn --factory bookmarks:from_environment`."""
    return create_app(verifier_from_environment())
