"""Prometheus metrics at /metrics, and security events in the log (never a token or a secret in either)."""

from __future__ import annotations

import logging
import re
import secrets

import pytest

from tests.conftest import PASSWORD, World, csrf_of


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_tokens_and_errors(world: World) -> None:
    before = world.http.get("/metrics").text
    world.login()
    tokens = world.tokens()
    refused = world.http.post("/oauth/token", data={"grant_type": "authorization_code", "code": "nope"})
    assert refused.status_code in (400, 401)
    page = world.http.get("/metrics")
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
    before = world.http.get("/metrics").text
    assert world.http.get(path).status_code == 404
    assert world.http.get(path + "/deeper").status_code == 404
    after = world.http.get("/metrics").text
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
