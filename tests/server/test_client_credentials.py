"""The client_credentials grant (RFC 6749 §4.4): confidential clients only, no refresh token, no user."""

from __future__ import annotations

from tests.conftest import World
from tests.server.test_token import add_client, remove_client


def grant(world: World, client_id: str, secret: str | None, **extra: str) -> dict[str, object]:
    response = world.http.post(
        "/oauth/token", data={"grant_type": "client_credentials", **extra}, auth=(client_id, secret or "")
    )
    body: dict[str, object] = response.json()
    body["_status"] = response.status_code
    return body


def test_a_machine_client_gets_an_access_token_and_nothing_else(world: World) -> None:
    machine = add_client(world, public=False, grant_types=["client_credentials"])
    body = grant(world, machine.client_id, machine.client_secret, scope="read:account write:notes nope")
    assert body["_status"] == 200
    assert str(body["access_token"]).startswith("sek_at_")
    assert body["scope"] == "read:account write:notes" and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert machine.client_secret
    info = world.http.post(
        "/oauth/introspect", data={"token": str(body["access_token"])}, auth=(machine.client_id, machine.client_secret)
    ).json()
    assert info["active"] is True and info["client_id"] == machine.client_id and "username" not in info
    # It acts for no user: the account API refuses it.
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 401


def test_client_credentials_needs_the_secret_and_the_grant(world: World) -> None:
    machine = add_client(world, public=False, grant_types=["client_credentials"])
    wrong = grant(world, machine.client_id, "sek_cs_wrong", scope="read:account")
    assert wrong["_status"] == 401 and wrong["error"] == "invalid_client"
    assert grant(world, world.public.client_id, None, scope="read:account")["error"] == "unauthorized_client"
    secret = world.confidential.client_secret
    not_allowed = grant(world, world.confidential.client_id, secret, scope="read:account")
    assert not_allowed["_status"] == 400 and not_allowed["error"] == "unauthorized_client"


def test_client_credentials_without_any_usable_scope_is_invalid_scope(world: World) -> None:
    machine = add_client(world, public=False, grant_types=["client_credentials"])
    assert grant(world, machine.client_id, machine.client_secret)["error"] == "invalid_scope"
    assert grant(world, machine.client_id, machine.client_secret, scope="nope")["error"] == "invalid_scope"


def test_a_removed_client_gets_no_token_from_the_next_request_on(world: World) -> None:
    machine = add_client(world, public=False, grant_types=["client_credentials"])
    for _ in range(2):  # the app has seen the client (and may remember it)
        assert grant(world, machine.client_id, machine.client_secret, scope="read:account")["_status"] == 200
    remove_client(world, machine.client_id)
    gone = grant(world, machine.client_id, machine.client_secret, scope="read:account")
    assert gone["_status"] == 401 and gone["error"] == "invalid_client"
    wrong = grant(world, machine.client_id, "sek_cs_wrong", scope="read:account")
    assert wrong["_status"] == 401 and wrong["error"] == "invalid_client"
