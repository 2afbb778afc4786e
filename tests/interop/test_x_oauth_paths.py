"""X's OAuth 2.0 paths on the stand-in (issue 23): GET /i/oauth2/authorize, POST /2/oauth2/token and
/2/oauth2/revoke, sekisho's own endpoints in X's dialect (sekisho.server.dialects.X), as
https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token describes them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from sekisho import demo
from sekisho.server.web.app import x_oauth
from tests.conftest import REDIRECT_URI, Registered, World, hidden_fields, make_world

X_SCOPE = "tweet.read tweet.write users.read offline.access"
PLAIN_REFUSED = "code_challenge_method plain is not allowed (RFC 9700 section 2.1.1): use S256"


@pytest.fixture
def world(database: str) -> Iterator[World]:
    """The demo and X's OAuth paths, as `sekisho serve --demo-api` mounts them."""
    with make_world(database, plugins=(demo.mount, x_oauth)) as running:
        running.login()
        yield running


def authorize(world: World, client: Registered, **overrides: str) -> tuple[str, dict[str, list[str]]]:
    """(verifier, query of the redirect back) after alice allows at X's path; the consent form posts back there."""
    params = world.authorize_params(client.client_id, **{"scope": X_SCOPE, **overrides})
    page = world.http.get("/i/oauth2/authorize", params=params)
    assert page.status_code == 200, page.text
    assert 'action="/i/oauth2/authorize"' in page.text
    form = {**hidden_fields(page.text), "decision": "allow"}
    response = world.http.post("/i/oauth2/authorize", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return world.verifiers[params["code_challenge"]], parse_qs(urlsplit(response.headers["location"]).query)


def basic(client: Registered) -> dict[str, str]:
    credentials = f"{client.client_id}:{client.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def x_token(world: World, client: Registered, data: dict[str, str]) -> dict[str, object]:
    """X's token endpoint: confidential clients with HTTP Basic, public ones with client_id in the body."""
    if client.client_secret:
        response = world.http.post("/2/oauth2/token", data=data, headers=basic(client))
    else:
        response = world.http.post("/2/oauth2/token", data={**data, "client_id": client.client_id})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def exchange(world: World, client: Registered, **overrides: str) -> dict[str, object]:
    verifier, query = authorize(world, client, **overrides)
    data = {"grant_type": "authorization_code", "code": query["code"][0], "code_verifier": verifier}
    return x_token(world, client, {**data, "redirect_uri": REDIRECT_URI})


@pytest.mark.parametrize("method", ["S256", "s256"])
def test_public_client_logs_in_as_at_x(world: World, method: str) -> None:
    verifier, query = authorize(world, world.public, code_challenge_method=method)
    assert set(query) == {"code", "state"}  # X sends no `iss`
    data = {"grant_type": "authorization_code", "code": query["code"][0], "code_verifier": verifier}
    tokens = x_token(world, world.public, {**data, "redirect_uri": REDIRECT_URI})
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 7200 and tokens["scope"] == X_SCOPE
    assert isinstance(tokens["refresh_token"], str)
    me = world.http.get("/2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["data"]["username"] == "alice"


def test_a_refresh_token_only_with_offline_access(world: World) -> None:
    tokens = exchange(world, world.public, scope="tweet.read users.read")
    assert "refresh_token" not in tokens and tokens["scope"] == "tweet.read users.read"
    assert tokens["expires_in"] == 7200


def test_confidential_client_with_basic_refreshes_at_x_path(world: World) -> None:
    tokens = exchange(world, world.confidential)
    refreshed = x_token(
        world, world.confidential, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )  # type: ignore[dict-item]
    assert refreshed["token_type"] == "bearer" and refreshed["expires_in"] == 7200
    assert refreshed["refresh_token"] != tokens["refresh_token"] and refreshed["scope"] == X_SCOPE


def test_sekisho_own_paths_keep_their_dialect(world: World) -> None:
    params = world.authorize_params(world.public.client_id, code_challenge_method="s256")
    response = world.http.get("/oauth/authorize", params=params, follow_redirects=False)
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["error_description"] == [
        "code_challenge_method must be S256"
    ]
    assert "iss" in query
    tokens = world.exchange(*world.code(scope="tweet.read users.read"))
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and "refresh_token" in tokens


@pytest.mark.parametrize("path", ["/i/oauth2/authorize", "/oauth/authorize"])
def test_plain_is_refused_everywhere_with_its_reason(world: World, path: str) -> None:
    params = world.authorize_params(world.public.client_id, code_challenge_method="plain")
    response = world.http.get(path, params=params, follow_redirects=False)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["error_description"] == [PLAIN_REFUSED]
    assert ("iss" in query) is (path == "/oauth/authorize")


def test_revoke_answers_as_x(world: World) -> None:
    tokens = exchange(world, world.public)
    data = {
        "token": str(tokens["access_token"]),
        "token_type_hint": "access_token",
        "client_id": world.public.client_id,
    }
    response = world.http.post("/2/oauth2/revoke", data=data)
    assert response.status_code == 200 and response.json() == {"revoked": True}
    me = world.http.get("/2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401 and me.json()["title"] == "Unauthorized"
    confidential = exchange(world, world.confidential)
    response = world.http.post(
        "/2/oauth2/revoke", data={"token": confidential["refresh_token"]}, headers=basic(world.confidential)
    )  # type: ignore[dict-item]
    assert response.status_code == 200 and response.json() == {"revoked": True}


def test_token_errors_are_rfc_6749_bodies_as_at_x(world: World) -> None:
    wrong = world.http.post(
        "/2/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic(world.confidential)
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "unsupported_grant_type"
    bad_code = {
        "grant_type": "authorization_code",
        "code": "nope",
        "code_verifier": "a" * 43,
        "redirect_uri": REDIRECT_URI,
    }
    response = world.http.post("/2/oauth2/token", data={**bad_code, "client_id": world.public.client_id})
    assert response.status_code == 400 and response.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code is not valid",
    }
    anonymous = world.http.post("/2/oauth2/token", data=bad_code)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"


def test_x_paths_are_advertised_nowhere(world: World) -> None:
    metadata = world.http.get("/.well-known/oauth-authorization-server").json()
    assert not any("oauth2" in str(value) for value in metadata.values())


def test_without_the_plugin_there_are_no_x_paths(database: str) -> None:
    with make_world(database) as bare:
        assert bare.http.post("/2/oauth2/token", data={}).status_code == 404
        assert bare.http.get("/i/oauth2/authorize").status_code == 404


def test_the_same_secret_in_basic_and_the_body_is_taken_only_at_x_paths(world: World) -> None:
    # X takes it, and twitter-api-v2 sends it (Basic and client_secret in the body); RFC 6749 §2.3 elsewhere.
    verifier, query = authorize(world, world.confidential)
    data = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": world.confidential.client_id,
        "client_secret": str(world.confidential.client_secret),
    }
    at_sekisho = world.http.post("/oauth/token", data=data, headers=basic(world.confidential))
    assert at_sekisho.status_code == 400 and at_sekisho.json()["error"] == "invalid_request"
    other = world.http.post(
        "/2/oauth2/token", data={**data, "client_secret": "another"}, headers=basic(world.confidential)
    )
    assert other.status_code == 400 and other.json()["error_description"] == (
        "send the client secret either in the Authorization header or in the body, not both"
    )
    at_x = world.http.post("/2/oauth2/token", data=data, headers=basic(world.confidential))
    assert at_x.status_code == 200 and at_x.json()["token_type"] == "bearer"


def test_problems_before_the_redirect_are_a_page_at_x_path_too(world: World) -> None:
    # RFC 6749 §4.1.2.1: an unknown client or redirect URI is never redirected, at X's path as at sekisho's.
    params = world.authorize_params("no-such-client", scope=X_SCOPE)
    page = world.http.get("/i/oauth2/authorize", params=params, follow_redirects=False)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    world.http.cookies.clear()  # signed out: the login sends the browser back to X's path
    params = world.authorize_params(world.public.client_id, scope=X_SCOPE)
    response = world.http.get("/i/oauth2/authorize", params=params, follow_redirects=False)
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["location"]).query)["next"][0].startswith("/i/oauth2/authorize?")
