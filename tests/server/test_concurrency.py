"""Single use under concurrency: two parallel exchanges of one code (or rotations of one refresh token).

Exactly one wins, and the loser's failure revokes what the winner got: in the store (two `SqlStore`s over one
SQLite file) and over real HTTP against a real `sekisho serve` process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sekisho.errors import InvalidGrant, OAuthError
from sekisho.protocol import jwt_access, tokens
from sekisho.protocol.params import TokenRequest
from sekisho.server.entities import AuthorizationCode, RefreshToken
from sekisho.server.grants import GrantContext, authorization_code, refresh_token
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import Signer
from sekisho.server.store import CodeAsk, Outcome, RefreshAsk, Successor
from sekisho.server.store.sql import SqlStore
from sekisho.server.store.sql.tokens import SqlGrants
from sekisho.server.token import Minted
from tests import sql
from tests.conftest import ISSUER, REDIRECT_URI, World
from tests.live import cli, consent_over_http, live_server
from tests.live import pkce_pair as pkce

ROUNDS = 5


class LockstepGrants(SqlGrants):
    """Both racers enter the store's one redemption call at once. With drawn (opaque) successors that is one
    statement each on PostgreSQL, sent together; read first (a JWT, a narrower scope) both read the code or
    refresh token before either consumes it, the worst interleaving of the longer way. On SQLite each call is one
    transaction, taken one after the other."""

    barrier: asyncio.Barrier | None = None
    waited = False

    async def redeem_code(self, ask: CodeAsk, successor: Successor) -> Outcome:
        await self._lockstep()
        return await super().redeem_code(ask, successor)

    async def rotate_refresh_token(self, ask: RefreshAsk, successor: Successor) -> Outcome:
        await self._lockstep()
        return await super().rotate_refresh_token(ask, successor)

    async def _lockstep(self) -> None:
        if self.barrier is not None and not self.waited:
            self.waited = True
            await self.barrier.wait()


Racer = Callable[[SqlStore], Awaitable[Minted]]


async def race(database: str, racer: Racer, *, lockstep: bool) -> list[Minted | BaseException]:
    stores = [await SqlStore.open(database, migrate_schema=False) for _ in range(2)]
    barrier = asyncio.Barrier(2)
    for store in stores:
        store.grants = LockstepGrants(store.database, store.clients)
        store.grants.barrier = barrier if lockstep else None
    try:
        return await asyncio.gather(*(racer(store) for store in stores), return_exceptions=True)
    finally:
        for store in stores:
            await store.close()


def one_winner(results: list[Minted | BaseException]) -> Minted:
    winners = [result for result in results if isinstance(result, Minted)]
    losers = [result for result in results if not isinstance(result, Minted)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], InvalidGrant), losers
    return winners[0]


def api_status(world: World, access_token: str) -> int:
    return world.http.post("/api/i", headers={"Authorization": f"Bearer {access_token}"}).status_code


async def exchange_in(store: SqlStore, world: World, code: str, verifier: str, *, signed: bool = False) -> Minted:
    """The grant as the token endpoint runs it; `signed`: a JWT, whose claims need the code read first."""
    client = await store.clients.find(world.public.client_id)
    assert client is not None
    request = TokenRequest("authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    settings = Settings(issuer=ISSUER, database=world.database)
    signer = Signer(jwt_access.new_signing_key()) if signed else None
    ctx = GrantContext(store, settings, int(world.clock()), signer)
    return await authorization_code.exchange(request, client, ctx)


@pytest.mark.parametrize("lockstep", [True, False])
@pytest.mark.parametrize("read_first", [False, True], ids=["drawn", "read-first"])
def test_parallel_code_exchanges_in_the_store(world: World, lockstep: bool, read_first: bool) -> None:
    world.login()
    for _ in range(ROUNDS):
        code, verifier = world.code()
        racer = partial(exchange_in, world=world, code=code, verifier=verifier, signed=read_first)
        results = asyncio.run(race(world.database, racer, lockstep=lockstep))
        winner = one_winner(results)
        assert revoked(world, winner.access_token), "the replay must revoke the winner's tokens"
        assert winner.refresh_token is not None
        refreshed = world.http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": winner.refresh_token,
                "client_id": world.public.client_id,
            },
        )
        assert refreshed.json()["error"] == "invalid_grant"
        # A third try over HTTP is refused too.
        again = world.http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": REDIRECT_URI,
                "client_id": world.public.client_id,
            },
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def refresh_in(store: SqlStore, world: World, value: str, *, scope: str | None = None) -> Minted:
    """The grant as the token endpoint runs it; a `scope` (narrowing) needs the refresh token read first."""
    client = await store.clients.find(world.public.client_id)
    assert client is not None
    settings = Settings(issuer=ISSUER, database=world.database)
    request = TokenRequest("refresh_token", refresh_token=value, scope=scope)
    return await refresh_token.refresh(request, client, GrantContext(store, settings, int(world.clock())))


@pytest.mark.parametrize("lockstep", [True, False])
@pytest.mark.parametrize("read_first", [False, True], ids=["drawn", "read-first"])
def test_parallel_refreshes_in_the_store(world: World, lockstep: bool, read_first: bool) -> None:
    world.login()
    for _ in range(ROUNDS):
        issued = world.tokens()
        value = str(issued["refresh_token"])
        racer = partial(refresh_in, world=world, value=value, scope=str(issued["scope"]) if read_first else None)
        winner = one_winner(asyncio.run(race(world.database, racer, lockstep=lockstep)))
        assert api_status(world, winner.access_token) == 401
        assert api_status(world, str(issued["access_token"])) == 401


def revoked(world: World, access_token: str) -> bool:
    """Whether the access token's row is revoked (read in SQL: a JWT signed with a key of the test's own cannot be
    sent to the API)."""
    [(revoked_at,)] = sql.rows(
        world.database,
        "SELECT revoked_at FROM access_tokens WHERE digest = :digest",
        digest=tokens.digest(access_token),
    )
    return revoked_at is not None


def test_store_keeps_no_consumed_code_usable(world: World) -> None:
    """After the race the code row is consumed and every token of its grant revoked, read straight from SQL."""
    world.login()
    code, verifier = world.code()
    winner = one_winner(
        asyncio.run(
            race(world.database, partial(exchange_in, world=world, code=code, verifier=verifier), lockstep=True)
        )
    )

    async def look() -> tuple[AuthorizationCode | None, object, RefreshToken | None]:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            now = int(world.clock())
            assert winner.refresh_token is not None
            return (
                await store.grants.find_code(tokens.digest(code)),
                await store.grants.find_access_token(tokens.digest(winner.access_token), now),
                await store.grants.find_refresh_token(tokens.digest(winner.refresh_token)),
            )
        finally:
            await store.close()

    stored_code, access, refresh = asyncio.run(look())
    assert stored_code is not None and stored_code.consumed_at is not None
    assert access is None
    assert refresh is not None and refresh.revoked_at is not None


# over HTTP, against a real server process

PASSWORD = "race password 1"
LIVE_REDIRECT = "http://127.0.0.1:9/callback"


def live_code(browser: httpx.Client, client_id: str) -> tuple[str, str]:
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": LIVE_REDIRECT,
        "scope": "read:account",
        "state": "race",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    _, location = consent_over_http(browser, params, username="alice", password=PASSWORD)
    return parse_qs(urlsplit(location).query)["code"][0], verifier


def post_twice_at_once(url: str, body: dict[str, str]) -> list[httpx.Response]:
    """Two threads, each with its own open connection, send the same token request at the same moment."""
    start = threading.Barrier(2)

    def post() -> httpx.Response:
        with httpx.Client(base_url=url, timeout=10) as app:
            app.get("/.well-known/oauth-authorization-server")  # connection open before the start line
            start.wait(timeout=10)
            return app.post("/oauth/token", data=body)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(post) for _ in range(2)]
        return [future.result(timeout=30) for future in futures]


@pytest.mark.e2e
def test_parallel_code_exchanges_over_http(tmp_path: Path, database: str) -> None:
    cli("user", "add", "alice", "--password-stdin", database=database, stdin=PASSWORD + "\n")
    added = cli(
        "client", "add", "--name", "Racer", "--redirect-uri", LIVE_REDIRECT, "--public", "--json", database=database
    )
    client_id = json.loads(added.stdout)["client_id"]
    with (
        live_server(tmp_path, database=database) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser,
    ):
        for _ in range(ROUNDS):
            code, verifier = live_code(browser, client_id)
            body = {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": LIVE_REDIRECT,
                "client_id": client_id,
            }
            responses = post_twice_at_once(server.url, body)
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [200, 400], [response.text for response in responses]
            winner = next(response for response in responses if response.status_code == 200).json()
            loser = next(response for response in responses if response.status_code == 400).json()
            assert loser["error"] == "invalid_grant"
            me = httpx.post(
                server.url + "/api/i", headers={"Authorization": f"Bearer {winner['access_token']}"}, timeout=10
            )
            assert me.status_code == 401, "the losing exchange must revoke the winner's tokens"
        assert "Traceback" not in server.output()


def test_oauth_error_is_what_the_loser_sees(world: World) -> None:
    """The loser's error is the RFC one a client can act on, not a storage error."""
    world.login()
    code, verifier = world.code()
    results = asyncio.run(
        race(world.database, partial(exchange_in, world=world, code=code, verifier=verifier), lockstep=True)
    )
    loser = next(result for result in results if not isinstance(result, Minted))
    assert isinstance(loser, OAuthError) and loser.body()["error"] == "invalid_grant"
    assert loser.status == 400
