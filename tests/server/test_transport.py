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
