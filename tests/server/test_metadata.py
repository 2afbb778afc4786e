"""RFC 8414 metadata, and CORS: `*` on metadata and token, never on the authorization endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from sekisho.server.settings import Settings
from sekisho.server.web.app import create_app
from tests.conftest import ISSUER, Clock, World

ORIGIN = {"Origin": "https://spa.example"}


def test_metadata_fields(world: World) -> None:
    response = world.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["issuer"] == ISSUER
    assert body["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert body["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert body["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert body["introspection_endpoint"] == f"{ISSUER}/oauth/introspect"
    assert body["response_types_supported"] == ["code"]
    assert body["response_modes_supported"] == ["query"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True
    assert body["service_documentation"] == f"{ISSUER}/"
    assert set(body["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none"}
    assert {"read:account", "write:notes", "tweet.read", "tweet.write", "users.read", "offline.access"} <= set(
        body["scopes_supported"]
    )


def test_metadata_offers_only_the_grants_it_serves(world: World) -> None:
    body = world.http.get("/.well-known/oauth-authorization-server").json()
    assert sorted(body["grant_types_supported"]) == [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ]
    assert body["device_authorization_endpoint"] == f"{ISSUER}/oauth/device_authorization"  # RFC 8628 §4
    assert "password" not in body["grant_types_supported"]
    assert "implicit" not in body["grant_types_supported"]
    assert "token" not in body["response_types_supported"]


def test_every_advertised_endpoint_exists(world: World) -> None:
    body = world.http.get("/.well-known/oauth-authorization-server").json()
    endpoints = ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "introspection_endpoint")
    for name in (*endpoints, "device_authorization_endpoint"):
        path = body[name].removeprefix(ISSUER)
        response = world.http.post(path, data={}, follow_redirects=False)
        assert response.status_code not in (404, 405), (name, response.status_code)


@pytest.fixture
def https_http(database: str) -> Iterator[TestClient]:
    app = create_app(Settings(issuer="https://auth.example/tenant", database=database), clock=Clock())
    with TestClient(app, base_url="https://auth.example") as http:
        yield http


def test_every_url_derives_from_the_issuer(https_http: TestClient) -> None:
    body = https_http.get("/.well-known/oauth-authorization-server").json()
    assert body["issuer"] == "https://auth.example/tenant"
    urls = [value for value in body.values() if isinstance(value, str) and "://" in value]
    assert len(urls) >= 6
    assert all(url.startswith("https://auth.example/tenant") for url in urls)


# CORS


def test_metadata_allows_any_origin(world: World) -> None:
    response = world.http.get("/.well-known/oauth-authorization-server", headers=ORIGIN)
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/oauth/token"])
def test_preflight_on_metadata_and_token(world: World, path: str) -> None:
    response = world.http.options(
        path,
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in response.headers


def test_token_allows_any_origin_on_success_and_error(world: World) -> None:
    world.login()
    code, verifier = world.code()
    ok = world.http.post(
        "/oauth/token",
        headers=ORIGIN,
        json={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": "https://app.example/callback",
            "client_id": world.public.client_id,
        },
    )
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "*"
    error = world.http.post("/oauth/token", headers=ORIGIN, data={"grant_type": "nope"})
    assert error.status_code in (400, 401) and error.headers["access-control-allow-origin"] == "*"


def test_authorization_endpoint_never_has_cors(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    responses = [
        world.http.get("/oauth/authorize", params=params, headers=ORIGIN, follow_redirects=False),
        world.http.get("/oauth/authorize", params={"client_id": "nobody"}, headers=ORIGIN),
        world.http.get("/oauth/authorize", params=params, headers={**ORIGIN, "Accept": "application/json"}),
        world.http.options(
            "/oauth/authorize", headers={**ORIGIN, "Access-Control-Request-Method": "GET"}, follow_redirects=False
        ),
    ]
    world.login()
    responses.append(world.http.get("/oauth/authorize", params=params, headers=ORIGIN))
    responses.append(world.http.post("/oauth/authorize", data=params, headers=ORIGIN, follow_redirects=False))
    for response in responses:
        assert not any(name.lower().startswith("access-control-") for name in response.headers), response.headers
    assert responses[3].status_code == 405


def test_login_pages_have_no_cors(world: World) -> None:
    for response in (world.http.get("/login", headers=ORIGIN), world.http.get("/", headers=ORIGIN)):
        assert "access-control-allow-origin" not in response.headers


def test_only_a_demo_server_names_its_demo_app(world: World, database: str) -> None:
    """`sekisho_demo_client_id` is there with --demo, for a CLI with no client id; never without it."""
    assert "sekisho_demo_client_id" not in world.http.get("/.well-known/oauth-authorization-server").json()
    demo = create_app(Settings(issuer=ISSUER, database=database, demo=True), clock=Clock())
    with TestClient(demo, base_url=ISSUER) as http:
        body = http.get("/.well-known/oauth-authorization-server").json()
    assert body["sekisho_demo_client_id"] == "sekisho-demo"
