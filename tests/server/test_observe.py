"""Prometheus metrics at /metrics (for the operator's scraper only), and security events in the log (never a token or
a secret in either)."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from sekisho.server.settings import build_settings
from tests.conftest import ISSUER, PASSWORD, World, csrf_of, make_world

METRICS_TOKEN = "scrape-" + "k" * 40


def scrape(world: World, peer: str = "127.0.0.1", headers: dict[str, str] | None = None, **params: str) -> Response:
    """GET /metrics from `peer` (the world's own client is "testclient", a name and so never loopback)."""
    http = TestClient(world.http.app, base_url=ISSUER, client=(peer, 50000))
    response: Response = http.get("/metrics", headers=headers, params=params)
    return response


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_tokens_and_errors(world: World) -> None:
    before = scrape(world).text
    world.login()
    tokens = world.tokens()
    refused = world.http.post("/oauth/token", data={"grant_type": "authorization_code", "code": "nope"})
    assert refused.status_code in (400, 401)
    page = scrape(world)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    after = page.text
    grant = {"grant_type": "authorization_code"}
    assert (
        sample(after, "sekisho_tokens_issued_total", **grant)
        == sample(before, "sekisho_tokens_issued_total", **grant) + 1
    )
    ok = {"method": "POST", "route": "/oauth/token", "status": "200"}
    assert sample(after, "sekisho_requests_total", **ok) >= sample(before, "sekisho_requests_total", **ok) + 1
    assert 'sekisho_request_duration_seconds_bucket{le="0.25",route="/oauth/token"}' in after
    assert 'sekisho_errors_total{error="' in after
    assert str(tokens["access_token"]) not in after


def test_a_request_no_route_matches_is_counted_as_unmatched_not_by_its_path(world: World) -> None:
    """Labels come from route templates, so a scanner's made-up paths cannot grow /metrics without bound."""
    path = f"/no-such-page-{secrets.token_hex(8)}"
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = scrape(world).text
    assert world.http.get(path).status_code == 404
    assert world.http.get(path + "/deeper").status_code == 404
    after = scrape(world).text
    assert (
        sample(after, "sekisho_requests_total", **unmatched)
        == sample(before, "sekisho_requests_total", **unmatched) + 2
    )
    count = "sekisho_request_duration_seconds_count"
    assert sample(after, count, route="unmatched") == sample(before, count, route="unmatched") + 2
    assert path not in after and "no-such-page" not in after


def test_security_events_name_what_happened_and_never_a_secret(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    world.login()
    first = world.tokens()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": world.public.client_id}
    assert world.http.post("/oauth/token", data=form).status_code == 200
    assert world.http.post("/oauth/token", data=form).json()["error"] == "invalid_grant"  # reuse
    page = world.http.get("/login")
    world.http.post(
        "/login", data={"username": "alice", "password": "wrong", "csrf_token": csrf_of(page.text), "next": "/"}
    )

    events = {getattr(r, "fields", {}).get("event"): r for r in caplog.records if r.name == "sekisho.security"}
    assert {"refresh_token_reuse", "login_failed"} <= set(events)
    reuse = events["refresh_token_reuse"].fields  # type: ignore[attr-defined]
    assert reuse["client_id"] == world.public.client_id and reuse["grant_id"]
    assert events["login_failed"].fields["username"] == "alice"  # type: ignore[attr-defined]
    everything = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    for secret in (first["access_token"], first["refresh_token"], "wrong", PASSWORD):
        assert str(secret) not in everything


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"])
def test_metrics_answer_a_loopback_peer_when_no_token_is_set(world: World, peer: str) -> None:
    """Issue 21, defense in depth: /metrics is not public; without --metrics-token only loopback peers scrape."""
    page = scrape(world, peer)
    assert page.status_code == 200 and "sekisho_requests_total" in page.text


@pytest.mark.parametrize("peer", ["203.0.113.9", "10.0.0.1", "::ffff:203.0.113.9", "2001:db8::1", "testclient"])
def test_metrics_answer_anyone_else_like_a_path_that_does_not_exist(world: World, peer: str) -> None:
    """Issue 21, defense in depth: from outside, /metrics is a 404 exactly like an unknown path (a 403 would tell that
    there is something to get), whatever the request claims: a loopback Host, forwarding headers (no proxy is
    trusted), a bearer token (none is set)."""
    unknown = TestClient(world.http.app, base_url=ISSUER, client=(peer, 50000)).get("/no-such-page")
    claims = [
        {},
        {"Host": "127.0.0.1"},
        {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"},
        {"Authorization": "Bearer anything"},
    ]
    for headers in claims:
        refused = scrape(world, peer, headers)
        assert (refused.status_code, refused.content) == (404, unknown.content)


@pytest.fixture
def guarded(database: str) -> Iterator[World]:
    settings = build_settings(database=database, issuer=ISSUER, metrics_token=METRICS_TOKEN)
    with make_world(database, settings) as running:
        yield running


def test_metrics_with_a_token_set_answer_only_its_bearer_from_anywhere(guarded: World) -> None:
    """Issue 21, defense in depth: with --metrics-token, /metrics needs `Authorization: Bearer <token>`, from loopback
    too; a token that is wrong, shorter, longer, of another case or sent otherwise is a 401 with a Bearer challenge."""
    for peer in ("127.0.0.1", "203.0.113.9"):
        page = scrape(guarded, peer, {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert page.status_code == 200 and "sekisho_requests_total" in page.text
    wrong = [
        {},
        {"Authorization": "Bearer " + METRICS_TOKEN[:-1]},
        {"Authorization": "Bearer " + METRICS_TOKEN + "k"},
        {"Authorization": "Bearer " + METRICS_TOKEN.upper()},
        {"Authorization": "Basic " + METRICS_TOKEN},
        {"Authorization": METRICS_TOKEN},
        {"Cookie": f"token={METRICS_TOKEN}"},
    ]
    for peer in ("127.0.0.1", "203.0.113.9"):
        for headers in wrong:
            refused = scrape(guarded, peer, headers)
            assert refused.status_code == 401, (peer, headers)
            assert refused.json()["error"] == "invalid_token"
            assert refused.headers["www-authenticate"].startswith('Bearer realm="sekisho", error="invalid_token"')
    assert scrape(guarded, access_token=METRICS_TOKEN).status_code == 401  # never from the query string


def test_metrics_refuse_an_outside_client_a_trusted_proxy_relays(database: str) -> None:
    """Issue 21, defense in depth: a request that a trusted proxy on loopback relays for an outside client is that
    client's, not a loopback one, and is refused (the peer is read from the scope the proxy handling rewrote)."""
    settings = build_settings(database=database, issuer=ISSUER, trusted_proxies=["127.0.0.1"])
    with make_world(database, settings) as world:
        assert scrape(world, "127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}).status_code == 404
        assert scrape(world, "127.0.0.1", {"Forwarded": "for=203.0.113.9"}).status_code == 404
        assert scrape(world, "127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}).status_code == 200
        assert scrape(world, "127.0.0.1").status_code == 200
