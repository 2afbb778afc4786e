"""RFC 7009 revocation and RFC 7662 introspection."""

from __future__ import annotations

from tests.conftest import World


def api_status(world: World, access_token: object) -> int:
    return world.http.post("/api/i", headers={"Authorization": f"Bearer {access_token}"}).status_code


def introspect(world: World, token: object, **extra: str) -> dict[str, object]:
    secret = world.confidential.client_secret
    assert secret
    response = world.http.post(
        "/oauth/introspect", data={"token": str(token), **extra}, auth=(world.confidential.client_id, secret)
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
