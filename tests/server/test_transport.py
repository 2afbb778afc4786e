"""HSTS under an https issuer, and the header limit, in process (tests/e2e/test_limits.py has them on the wire)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from httpx2 import Response

from sekisho.server.settings import Settings
from tests.conftest import World, make_world

HSTS = "max-age=31536000"


@pytest.fixture
def https_world(database: str) -> Iterator[World]:
    with make_world(database, Settings(issuer="https://auth.example", database=database, demo=True)) as running:
        yield running


def every_kind_of_response(world: World) -> dict[str, Response]:
    """A page, a redirect, JSON, a static file, errors, an unknown path, a refused header section, by name."""
    http = world.http
    return {
        "page": http.get("/login"),
        "redirect": http.get("/settings/apps", follow_redirects=False),
        "token error": http.post("/oauth/token", data={"grant_type": "nope"}),
        "metadata": http.get("/.well-known/oauth-authorization-server"),
        "static": http.get("/static/sekisho.css"),
        "unknown": http.get("/no-such-page"),
        "wrong method": http.delete("/oauth/token"),
        "too large": http.get("/healthz", headers={"X-Big": "a" * 17 * 1024}),
    }


def test_every_response_carries_hsts_under_an_https_issuer(https_world: World) -> None:
    """Issue 21, defense in depth: Strict-Transport-Security (RFC 6797) on every response when the issuer is https."""
    seen = every_kind_of_response(https_world)
    assert {name: response.headers.get("strict-transport-security") for name, response in seen.items()} == {
        name: HSTS for name in seen
    }
    assert [seen[name].status_code for name in ("page", "redirect", "static", "unknown", "too large")] == [
        200,
        303,
        200,
        404,
        431,
    ]


def test_no_response_carries_hsts_under_an_http_issuer(world: World) -> None:
    seen = every_kind_of_response(world)
    assert [name for name, response in seen.items() if "strict-transport-security" in response.headers] == []


def test_a_header_section_over_16_kib_is_refused_with_431(world: World) -> None:
    """Issue 21, defense in depth: the sum of every field's name and value, however it is split."""
    assert world.http.get("/healthz", headers={"X-Big": "a" * 15 * 1024}).status_code == 200
    split = {f"X-Part-{number}": "b" * 1000 for number in range(17)}
    refused = world.http.get("/healthz", headers=split)
    assert refused.status_code == 431 and refused.headers["connection"] == "close"
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "the request's header fields exceed 16 KiB",
    }


def test_the_body_deadline_holds_in_each_event_loop_the_app_meets() -> None:
    """One app, served by one event loop after another (as tests and reloads do): a body that stops arriving is
    cut off in each, by the sweep of the loop it runs in."""
    import asyncio

    import pytest
    from starlette.types import Message, Receive, Scope, Send

    from sekisho.server.web.transport import BodyTimeout, Edge

    async def reads_the_body(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass

    transport = Edge(reads_the_body)
    transport.body_seconds = 0.2
    scope = {"type": "http", "headers": [(b"content-length", b"10")]}

    async def stalled_request() -> None:
        async def receive() -> Message:
            await asyncio.sleep(30)  # the body never comes
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        await asyncio.wait_for(transport(scope, receive, send), timeout=5)

    for _ in range(2):
        with pytest.raises(BodyTimeout):
            asyncio.run(stalled_request())
    assert transport.reading == set()
