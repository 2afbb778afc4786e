"""Verifiers pointed at a running world (its store, its /oauth/introspect, its /oauth/jwks), and a static one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from sekisho.errors import InvalidToken
from sekisho.resource import IntrospectionVerifier, JwtVerifier, StoreVerifier, TokenInfo, TokenVerifier
from sekisho.resource.verifiers import VerifierUnavailable
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests.conftest import ISSUER, World, make_world

T = TypeVar("T")

# (verifier, the server's access-token format): every verifier against every format it can check
COMBINATIONS = [
    ("store", "opaque"),
    ("store", "jwt"),
    ("introspection", "opaque"),
    ("introspection", "jwt"),
    ("jwt", "jwt"),
]


@dataclass
class Bridge:
    """httpx.AsyncClients whose requests the world's TestClient serves; `paths` records every request's path."""

    http: TestClient
    paths: list[str] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._forward))

    def _forward(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        answer = self.http.request(
            request.method, str(request.url), content=request.content, headers=dict(request.headers)
        )
        return httpx.Response(answer.status_code, headers=answer.headers.multi_items(), content=answer.content)


@dataclass
class Subject:
    """One verifier kind over a world whose server issues `token_format` access tokens."""

    kind: str
    world: World
    bridge: Bridge

    @asynccontextmanager
    async def verifier(self, **options: Any) -> AsyncIterator[TokenVerifier]:
        if self.kind == "store":
            store = await SqlStore.open(self.world.database, migrate_schema=False)
            try:
                yield StoreVerifier(store.grants, clock=self.world.clock)
            finally:
                await store.close()
            return
        async with self.bridge.client() as http:
            if self.kind == "introspection":
                yield self.introspection(http, **options)
            else:
                confirm = self.introspection(http)
                yield JwtVerifier(
                    f"{ISSUER}/oauth/jwks",
                    issuer=ISSUER,
                    audience=ISSUER,
                    http=http,
                    clock=self.world.clock,
                    confirm_with=confirm,
                    **options,
                )

    def introspection(self, http: httpx.AsyncClient, **options: Any) -> IntrospectionVerifier:
        caller = self.world.resource_server
        assert caller.client_secret
        endpoint = f"{ISSUER}/oauth/introspect"
        return IntrospectionVerifier(
            endpoint, caller.client_id, caller.client_secret, http=http, clock=self.world.clock, **options
        )

    def run(self, scenario: Callable[[TokenVerifier], Awaitable[T]], **options: Any) -> T:
        """`scenario` with one fresh verifier, in its own event loop."""

        async def main() -> T:
            async with self.verifier(**options) as verifier:
                return await scenario(verifier)

        return asyncio.run(main())

    def verify(self, token: str) -> TokenInfo:
        return self.run(lambda verifier: verifier.verify(token))


@pytest.fixture(params=COMBINATIONS, ids=[f"{kind}-{token_format}" for kind, token_format in COMBINATIONS])
def subject(request: pytest.FixtureRequest, database: str) -> Iterator[Subject]:
    kind, token_format = request.param
    settings = Settings(issuer=ISSUER, database=database, access_token_format=token_format)
    with make_world(database, settings) as world:
        yield Subject(kind, world, Bridge(world.http))


class StaticVerifier:
    """Knows a fixed set of tokens, for the adapters' tests; `down` makes it unavailable."""

    def __init__(self, known: dict[str, TokenInfo]) -> None:
        self.known = known
        self.down = False

    async def verify(self, token: str) -> TokenInfo:
        if self.down:
            raise VerifierUnavailable("the test says the authorization server is down")
        info = self.known.get(token)
        if info is None:
            raise InvalidToken("the access token is not valid")
        return info


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge(response: Response, status: int, error: str, *, in_detail: bool = False) -> dict[str, str]:
    """The Bearer challenge's parameters, once status, body and header agree on `error` (FastAPI: body["detail"])."""
    assert response.status_code == status, response.text
    body = response.json()["detail"] if in_detail else response.json()
    assert body["error"] == error and body["error_description"]
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert params["error"] == error and params["realm"] == "sekisho"
    return params
