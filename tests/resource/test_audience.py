"""Every verifier refuses a token meant for another resource (RFC 8707 §2, RFC 9068 §4), against a real world whose
tokens name their resources; on SQLite and PostgreSQL, opaque and JWT."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from sekisho.errors import InvalidToken
from sekisho.resource import IntrospectionVerifier, JwtVerifier, StoreVerifier, TokenInfo
from sekisho.resource.introspection import parse_answer
from sekisho.resource.verifiers import VerifierUnavailable, check_audience
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore
from tests.conftest import ISSUER, make_world
from tests.resource.conftest import COMBINATIONS, Bridge, Subject
from tests.server.test_resource_indicators import FILES, MCP, authorize, exchange


@pytest.fixture(params=COMBINATIONS, ids=[f"{kind}-{token_format}" for kind, token_format in COMBINATIONS])
def subject(request: pytest.FixtureRequest, database: str) -> Iterator[Subject]:
    kind, token_format = request.param
    settings = Settings(issuer=ISSUER, database=database, access_token_format=token_format, resources=(MCP, FILES))
    with make_world(database, settings) as world:
        world.login()
        yield Subject(kind, world, Bridge(world.http))


def verify(subject: Subject, token: object, audience: str, **options: Any) -> TokenInfo:
    """`token` checked by a fresh verifier of the subject's kind for the resource `audience`."""
    world = subject.world

    async def main() -> TokenInfo:
        if subject.kind == "store":
            store = await SqlStore.open(world.database, migrate_schema=False)
            try:
                return await StoreVerifier(store.grants, clock=world.clock, audience=audience, **options).verify(
                    str(token)
                )
            finally:
                await store.close()
        async with subject.bridge.client() as http:
            verifier: IntrospectionVerifier | JwtVerifier
            if subject.kind == "introspection":
                verifier = subject.introspection(http, audience=audience, **options)
            else:
                verifier = JwtVerifier(
                    f"{ISSUER}/oauth/jwks", issuer=ISSUER, audience=audience, http=http, clock=world.clock
                )
            return await verifier.verify(str(token))

    return asyncio.run(main())


def bound_token(subject: Subject, *resources: str) -> object:
    status, tokens = exchange(subject.world, authorize(subject.world, list(resources)))
    assert status == 200, tokens
    return tokens["access_token"]


def test_an_audience_bound_token_is_refused_by_a_resource_server_of_another_resource(subject: Subject) -> None:
    """Issue 25's test line: a token for MCP is no good at FILES (nor at the issuer's demo API)."""
    token = bound_token(subject, MCP)
    assert verify(subject, token, MCP).audience == (MCP,)
    for other in (FILES, ISSUER):
        with pytest.raises(InvalidToken, match="another audience"):
            verify(subject, token, other, **({} if subject.kind == "jwt" else {"accept_without_audience": True}))
    both = bound_token(subject, MCP, FILES)
    assert verify(subject, both, FILES).audience == (MCP, FILES)
    assert subject.world.http.post("/api/i", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_token_issued_without_resource(subject: Subject) -> None:
    """It names no audience (a JWT: the issuer). A resource server with an audience refuses it unless told to take
    such tokens; the issuer's own API (the demo) takes it."""
    token = subject.world.tokens()["access_token"]
    if subject.kind == "jwt":  # RFC 9068: `aud` is the issuer
        assert verify(subject, token, ISSUER).audience == (ISSUER,)
        with pytest.raises(InvalidToken, match="another audience"):
            verify(subject, token, MCP)
        return
    with pytest.raises(InvalidToken, match="names no audience"):
        verify(subject, token, MCP)
    assert verify(subject, token, MCP, accept_without_audience=True).audience in ((), (ISSUER,))
    assert subject.world.http.post("/api/i", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_check_audience() -> None:
    info = TokenInfo("c", "u", ("read:account",), 2_000_000_000, audience=(MCP, FILES))
    assert check_audience(info, None, accept_without_audience=False) is info
    assert check_audience(info, FILES, accept_without_audience=False) is info
    with pytest.raises(InvalidToken):
        check_audience(info, ISSUER, accept_without_audience=True)
    unbound = TokenInfo("c", "u", (), 2_000_000_000)
    assert check_audience(unbound, MCP, accept_without_audience=True) is unbound
    with pytest.raises(InvalidToken):
        check_audience(unbound, MCP, accept_without_audience=False)


def test_an_introspection_answer_names_its_audience() -> None:
    answer = {"active": True, "client_id": "c", "scope": "", "exp": 2_000_000_000}
    assert parse_answer(answer | {"aud": MCP}, 1).audience == (MCP,)
    assert parse_answer(answer | {"aud": [MCP, FILES]}, 1).audience == (MCP, FILES)
    assert parse_answer(answer, 1).audience == ()
    for bad in (3, [MCP, 3], {"a": MCP}):
        with pytest.raises(VerifierUnavailable):
            parse_answer(answer | {"aud": bad}, 1)
