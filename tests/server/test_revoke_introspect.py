"""RFC 7009 revocation and RFC 7662 introspection."""

from __future__ import annotations

import pytest

from tests.conftest import Registered, World
from tests.server.test_client_credentials import remove_client


def api_status(world: World, access_token: object) -> int:
    return world.http.post("/api/i", headers={"Authorization": f"Bearer {access_token}"}).status_code


def introspect(world: World, token: object, caller: Registered | None = None, **extra: str) -> dict[str, object]:
    """Introspect as `caller`, by default the world's designated resource server."""
    caller = caller or world.resource_server
    assert caller.client_secret
    response = world.http.post(
        "/oauth/introspect", data={"token": str(token), **extra}, auth=(caller.client_id, caller.client_secret)
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


def test_revoking_a_refresh_token_ends_the_grant_family(world: World) -> None:
    world.login()
    tokens = world.tokens()
    response = world.http.post(
        "/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": world.public.client_id,
        },
    )
    assert response.status_code == 200 and response.content == b""
    assert api_status(world, tokens["access_token"]) == 401
    refresh = world.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": world.public.client_id,
        },
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_revoking_an_access_token_ends_only_it(world: World) -> None:
    world.login()
    tokens = world.tokens()
    response = world.http.post(
        "/oauth/revoke", json={"token": tokens["access_token"], "client_id": world.public.client_id}
    )
    assert response.status_code == 200
    assert api_status(world, tokens["access_token"]) == 401
    refresh = world.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": world.public.client_id,
        },
    )
    assert refresh.status_code == 200


def test_unknown_tokens_and_other_clients_tokens_get_200_and_change_nothing(world: World) -> None:
    world.login()
    tokens = world.tokens()  # issued to the public client
    secret = world.confidential.client_secret
    assert secret
    for token in ("sek_at_unknown", "garbage", tokens["access_token"], tokens["refresh_token"]):
        response = world.http.post(
            "/oauth/revoke", data={"token": str(token)}, auth=(world.confidential.client_id, secret)
        )
        assert response.status_code == 200
    assert api_status(world, tokens["access_token"]) == 200


def test_revocation_needs_client_authentication_and_a_token(world: World) -> None:
    assert world.http.post("/oauth/revoke", data={"token": "x"}).json()["error"] == "invalid_client"
    wrong = world.http.post("/oauth/revoke", data={"token": "x"}, auth=(world.confidential.client_id, "nope"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    missing = world.http.post("/oauth/revoke", data={"client_id": world.public.client_id})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_introspection_of_active_and_inactive_tokens(world: World) -> None:
    world.login()
    tokens = world.tokens()
    active = introspect(world, tokens["access_token"])
    assert active["active"] is True
    assert active["scope"] == "read:account write:notes"
    assert active["client_id"] == world.public.client_id
    assert active["username"] == "alice" and active["token_type"] == "Bearer"
    assert isinstance(active["exp"], int) and active["iss"] == "http://testserver"
    assert introspect(world, tokens["refresh_token"], token_type_hint="refresh_token")["active"] is True
    for dead in ("garbage", "sek_at_" + "x" * 43, "sek_rt_" + "x" * 43):
        assert introspect(world, dead) == {"active": False}
    world.clock.advance(3601)
    assert introspect(world, tokens["access_token"]) == {"active": False}


def test_introspection_needs_a_confidential_caller(world: World) -> None:
    denied = world.http.post("/oauth/introspect", data={"token": "x", "client_id": world.public.client_id})
    assert denied.status_code == 401 and denied.json()["error"] == "invalid_client"
    anonymous = world.http.post("/oauth/introspect", data={"token": "x"})
    assert anonymous.status_code == 401


def test_a_client_introspects_its_own_tokens_but_not_another_clients(world: World) -> None:
    world.login()
    theirs = world.tokens()  # issued to the public client
    code, verifier = world.code(world.confidential.client_id)
    own = world.exchange(code, verifier, world.confidential)
    assert introspect(world, own["access_token"], world.confidential)["active"] is True
    assert introspect(world, own["refresh_token"], world.confidential)["active"] is True
    for token in (theirs["access_token"], theirs["refresh_token"]):
        assert introspect(world, token, world.confidential) == {"active": False}
        assert introspect(world, token)["active"] is True  # the designated resource server sees it


def test_a_resource_server_may_revoke_any_clients_token(world: World) -> None:
    world.login()
    tokens = world.tokens()  # issued to the public client
    api = world.resource_server
    assert api.client_secret
    auth = (api.client_id, api.client_secret)
    assert world.http.post("/oauth/revoke", data={"token": str(tokens["access_token"])}, auth=auth).status_code == 200
    assert api_status(world, tokens["access_token"]) == 401
    second = world.tokens()
    assert world.http.post("/oauth/revoke", data={"token": str(second["refresh_token"])}, auth=auth).status_code == 200
    assert api_status(world, second["access_token"]) == 401  # the whole grant family ended
    assert introspect(world, second["refresh_token"]) == {"active": False}


def test_introspection_of_a_revoked_token_is_inactive(world: World) -> None:
    world.login()
    tokens = world.tokens()
    world.http.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": world.public.client_id})
    assert introspect(world, tokens["access_token"]) == {"active": False}
    assert introspect(world, tokens["refresh_token"]) == {"active": False}


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_bad_client_credentials_are_invalid_client(world: World, path: str) -> None:
    api = world.resource_server
    for auth in ((api.client_id, "sek_cs_wrong"), ("no-such-client", "secret"), (api.client_id, "")):
        response = world.http.post(path, data={"token": "x"}, auth=auth)
        assert response.status_code == 401, auth
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")
    post = world.http.post(path, data={"token": "x", "client_id": api.client_id, "client_secret": "wrong"})
    assert post.status_code == 401 and post.json()["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_bad_requests_get_rfc_errors_never_a_500(world: World, path: str) -> None:
    api = world.resource_server
    assert api.client_secret
    auth = (api.client_id, api.client_secret)
    for body in ({}, {"token": ""}, {"token": ["a", "b"]}):
        response = world.http.post(path, data=body, auth=auth)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", body
    for json_body in ({"token": 12}, {"token": None}, [1, 2], "x"):
        response = world.http.post(path, json=json_body, auth=auth)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", json_body
    for odd in ("é" * 100, "\x00", "x" * 60_000):
        response = world.http.post(path, data={"token": odd}, auth=auth)
        assert response.status_code in (200, 400), odd
        if path == "/oauth/introspect" and response.status_code == 200:
            assert response.json() == {"active": False}


def test_a_removed_resource_server_may_introspect_no_more(world: World) -> None:
    world.login()
    tokens = world.tokens()
    api = world.resource_server
    assert api.client_secret
    for _ in range(2):  # the app has seen the caller (and may remember it)
        assert introspect(world, tokens["access_token"])["active"] is True
    remove_client(world, api.client_id)
    response = world.http.post(
        "/oauth/introspect", data={"token": str(tokens["access_token"])}, auth=(api.client_id, api.client_secret)
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
