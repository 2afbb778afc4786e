"""IntrospectionVerifier: its cache, its credentials, and an authorization server that gives no usable answer."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sekisho.errors import InvalidToken
from sekisho.protocol.credentials import parse_basic
from sekisho.resource import IntrospectionVerifier, TokenInfo, TokenVerifier, VerifierUnavailable, upstream
from sekisho.resource.cache import TtlCache
from sekisho.resource.introspection import basic_authorization
from tests.conftest import ISSUER, Clock, World
from tests.resource.conftest import Bridge, Subject

ENDPOINT = "https://as.example/oauth/introspect"
NOW = 1_800_000_000
ACTIVE = {"active": True, "client_id": "c", "scope": "read:account", "exp": NOW + 600, "token_type": "Bearer"}


@pytest.fixture
def subject(world: World) -> Subject:
    return Subject("introspection", world, Bridge(world.http))


def access_tokens(world: World, count: int) -> list[str]:
    world.login()
    return [str(world.tokens()["access_token"]) for _ in range(count)]


def asked(subject: Subject) -> int:
    return subject.bridge.paths.count("/oauth/introspect")


def test_a_cached_answer_needs_no_request(subject: Subject) -> None:
    [token] = access_tokens(subject.world, 1)

    async def scenario(verifier: TokenVerifier) -> None:
        first = await verifier.verify(token)
        assert await verifier.verify(token) == first

    subject.run(scenario)
    assert asked(subject) == 1


def test_a_revocation_is_seen_once_the_cached_answer_is_older_than_cache_ttl(subject: Subject) -> None:
    world = subject.world
    [token] = access_tokens(world, 1)

    async def scenario(verifier: TokenVerifier) -> None:
        await verifier.verify(token)
        world.http.post("/oauth/revoke", data={"token": token, "client_id": world.public.client_id})
        world.clock.advance(29)
        await verifier.verify(token)  # still cached
        world.clock.advance(1)
        with pytest.raises(InvalidToken):
            await verifier.verify(token)

    subject.run(scenario)
    assert asked(subject) == 2


def test_a_cached_answer_never_outlives_the_token(subject: Subject) -> None:
    [token] = access_tokens(subject.world, 1)

    async def scenario(verifier: TokenVerifier) -> None:
        info = await verifier.verify(token)
        subject.world.clock.now = info.expires_at
        with pytest.raises(InvalidToken):
            await verifier.verify(token)

    subject.run(scenario, cache_ttl=10 * 3600)


def test_refusals_are_not_cached(subject: Subject) -> None:
    async def scenario(verifier: TokenVerifier) -> None:
        for _ in range(2):
            with pytest.raises(InvalidToken):
                await verifier.verify("sek_at_unknown")

    subject.run(scenario)
    assert asked(subject) == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used(subject: Subject) -> None:
    first, second, third = access_tokens(subject.world, 3)

    async def scenario(verifier: TokenVerifier) -> None:
        for token in (first, second, first, third):  # `second` is now the least recently used: dropped for `third`
            await verifier.verify(token)
        assert asked(subject) == 3
        await verifier.verify(first)
        await verifier.verify(third)
        assert asked(subject) == 3
        await verifier.verify(second)
        assert asked(subject) == 4

    subject.run(scenario, max_entries=2)


def test_cache_ttl_zero_asks_every_time(subject: Subject) -> None:
    [token] = access_tokens(subject.world, 1)
    subject.run(lambda verifier: asyncio.gather(verifier.verify(token), verifier.verify(token)), cache_ttl=0)
    assert asked(subject) == 2


def test_refused_resource_server_credentials_are_unavailable_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    [token] = access_tokens(world, 1)
    bridge = Bridge(world.http)

    async def scenario() -> None:
        async with bridge.client() as http:
            endpoint = f"{ISSUER}/oauth/introspect"
            verifier = IntrospectionVerifier(endpoint, world.resource_server.client_id, "sek_cs_wrong", http=http)
            await verifier.verify(token)

    with caplog.at_level(logging.WARNING), pytest.raises(VerifierUnavailable) as caught:
        asyncio.run(scenario())
    assert caught.value.status == 503
    assert "answered 401" in caplog.text and token not in caplog.text


@pytest.mark.parametrize(
    ("endpoint", "options"),
    [
        (ENDPOINT, {"cache_ttl": -1}),
        (ENDPOINT, {"max_entries": 0}),
        ("ftp://as.example/introspect", {}),
        ("/oauth/introspect", {}),
        ("http://", {}),
        ("http://[::1", {}),
    ],
)
def test_bad_settings_are_refused_at_construction(endpoint: str, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        IntrospectionVerifier(endpoint, "id", "secret", **options)


# against a scripted authorization server


Answer = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def ask(answer: Answer, token: str = "tok") -> TokenInfo:
    async def scenario() -> TokenInfo:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            verifier = IntrospectionVerifier(ENDPOINT, "rs:1 é", "p%&+ =", http=http, clock=Clock(NOW))
            return await verifier.verify(token)

    return asyncio.run(scenario())


def answering(status: int = 200, body: Any = None, content: bytes | None = None) -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(status, content=content if content is not None else json.dumps(body))


def test_the_request_is_rfc_7662_with_rfc_6749_basic_credentials() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ACTIVE | {"sub": "u1"})

    assert ask(answer) == TokenInfo("c", "u1", ("read:account",), NOW + 600)
    [request] = seen
    assert request.method == "POST" and str(request.url) == ENDPOINT
    assert parse_qs(request.content.decode()) == {"token": ["tok"], "token_type_hint": ["access_token"]}
    assert parse_basic(request.headers["authorization"]) == ("rs:1 é", "p%&+ =")


def test_basic_authorization_form_encodes_both_parts() -> None:
    assert basic_authorization("a b", "c:d") == "Basic YStiOmMlM0Fk"


@pytest.mark.parametrize(
    "body",
    [
        {"active": False},
        ACTIVE | {"token_type": "refresh_token"},
        ACTIVE | {"exp": NOW},
    ],
    ids=["inactive", "a refresh token", "expired"],
)
def test_answers_that_refuse_the_token(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        ask(answering(body=body))


@pytest.mark.parametrize(
    "answer",
    [
        answering(500, {"error": "server_error"}),
        answering(503, content=b""),
        answering(302, content=b""),
        answering(content=b"<html>not json</html>"),
        answering(content=b"[" * 100_000),
        answering(content=b'{"active": true, "client_id": "\xff"}'),
        answering(content=b"x" * (upstream.MAX_BODY + 1)),
        answering(body=[True]),
        answering(body={"active": "true"}),
        answering(body={"active": True}),
        answering(body=ACTIVE | {"exp": "soon"}),
        answering(body=ACTIVE | {"scope": ["read:account"]}),
        answering(body=ACTIVE | {"sub": 7}),
    ],
    ids=[
        "500",
        "503",
        "a redirect",
        "not JSON",
        "nested too deep",
        "not UTF-8",
        "too large",
        "not an object",
        "active not a boolean",
        "active but nothing else",
        "exp not a number",
        "scope not a string",
        "sub not a string",
    ],
)
def test_no_usable_answer_is_unavailable(answer: Callable[[httpx.Request], httpx.Response]) -> None:
    with pytest.raises(VerifierUnavailable):
        ask(answer)


def test_network_failures_and_timeouts_are_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        raise AssertionError("the timeout should have struck")

    monkeypatch.setattr(upstream, "TIMEOUT", 0.05)
    for answer in (refuse, stall):
        with pytest.raises(VerifierUnavailable):
            ask(answer)


def test_no_scope_is_an_empty_scope() -> None:
    info = ask(answering(body={k: v for k, v in ACTIVE.items() if k != "scope"}))
    assert info.scope == () and info.user_id is None


def test_ttl_cache_evicts_the_least_recently_used_and_forgets_the_expired() -> None:
    cache: TtlCache[str] = TtlCache(2)
    cache.put("a", "A", until=10, now=0)
    cache.put("b", "B", until=10, now=0)
    assert cache.get("a", now=1) == "A"
    cache.put("c", "C", until=10, now=1)
    assert (cache.get("a", 2), cache.get("b", 2), cache.get("c", 2), len(cache)) == ("A", None, "C", 2)
    assert cache.get("a", now=10) is None and len(cache) == 1
    cache.put("d", "D", until=5, now=5)
    assert cache.get("d", now=5) is None
