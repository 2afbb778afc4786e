"""Client authentication (RFC 6749 §2.3): basic or post, never both; public clients send no secret."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from httpx2 import Response

from tests.conftest import REDIRECT_URI, World


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


def basic(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts form-urlencoded, then base64.
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def exchange_data(world: World, client_id: str | None) -> dict[str, str]:
    code, verifier = world.code(client_id)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI}
    return data


def invalid_client(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


def invalid_request(response: Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


def post(world: World, data: dict[str, str], authorization: str | None = None) -> Response:
    headers = {"authorization": authorization} if authorization else {}
    return world.http.post("/oauth/token", data=data, headers=headers)


# confidential clients


def test_client_secret_basic(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    response = post(world, exchange_data(world, client_id), basic(client_id, secret))
    assert response.status_code == 200, response.text


def test_client_secret_basic_with_the_same_client_id_in_the_body(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    data = {**exchange_data(world, client_id), "client_id": client_id}
    assert post(world, data, basic(client_id, secret)).status_code == 200


def test_basic_scheme_is_case_insensitive(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    header = basic(client_id, secret).replace("Basic", "bAsIc")
    assert post(world, exchange_data(world, client_id), header).status_code == 200


def test_client_secret_post(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    data = {**exchange_data(world, client_id), "client_id": client_id, "client_secret": secret}
    assert post(world, data).status_code == 200
    data = {**exchange_data(world, client_id), "client_id": client_id, "client_secret": secret}
    assert world.http.post("/oauth/token", json=data).status_code == 200


def test_basic_and_post_at_once_is_invalid_request(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    data = {**exchange_data(world, client_id), "client_id": client_id, "client_secret": secret}
    invalid_request(post(world, data, basic(client_id, secret)))
    # And the refused request did not use the code.
    data.pop("client_secret")
    assert post(world, data, basic(client_id, secret)).status_code == 200


def test_basic_and_a_different_body_client_id_is_invalid_request(signed_in: World) -> None:
    world = signed_in
    client_id, secret = world.confidential.client_id, world.confidential.client_secret
    assert secret
    data = {**exchange_data(world, client_id), "client_id": world.public.client_id}
    invalid_request(post(world, data, basic(client_id, secret)))


@pytest.mark.parametrize("how", ["basic", "post", "json"])
def test_wrong_secret_is_401_invalid_client(signed_in: World, how: str) -> None:
    world = signed_in
    client_id = world.confidential.client_id
    data = exchange_data(world, client_id)
    wrong = "sek_cs_" + "A" * 43
    if how == "basic":
        response = post(world, data, basic(client_id, wrong))
    elif how == "post":
        response = post(world, {**data, "client_id": client_id, "client_secret": wrong})
    else:
        response = world.http.post("/oauth/token", json={**data, "client_id": client_id, "client_secret": wrong})
    invalid_client(response)
    assert response.json()["error_description"] == "client authentication failed"


def test_confidential_client_without_secret_is_invalid_client(signed_in: World) -> None:
    world = signed_in
    client_id = world.confidential.client_id
    invalid_client(post(world, {**exchange_data(world, client_id), "client_id": client_id}))
    invalid_client(post(world, exchange_data(world, client_id), basic(client_id, "")))


def test_secret_of_another_client_is_refused(signed_in: World) -> None:
    world = signed_in
    secret = world.confidential.client_secret
    assert secret
    data = exchange_data(world, world.public.client_id)
    invalid_client(post(world, data, basic(world.public.client_id, secret)))


def test_malformed_basic_credentials_are_invalid_client(world: World) -> None:
    for header in (
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret-without-id").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic ",
        "Basic",
    ):
        invalid_client(post(world, {"grant_type": "authorization_code", "code": "x"}, header))


def test_unknown_client_is_invalid_client(world: World) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI, "code_verifier": "a" * 43}
    invalid_client(post(world, {**data, "client_id": "no-such-client"}))
    invalid_client(post(world, data, basic("no-such-client", "secret")))
    invalid_client(post(world, data))  # nobody at all
    invalid_client(post(world, {**data, "client_id": "x" * 3000}))


def test_another_authorization_scheme_is_not_client_authentication(signed_in: World) -> None:
    world = signed_in
    data = exchange_data(world, world.public.client_id)
    invalid_client(post(world, data, "Bearer sek_at_whatever"))
    assert post(world, {**data, "client_id": world.public.client_id}, "Bearer sek_at_whatever").status_code == 200


# public clients


def test_public_client_sends_client_id_only(signed_in: World) -> None:
    world = signed_in
    client_id = world.public.client_id
    response = post(world, {**exchange_data(world, client_id), "client_id": client_id})
    assert response.status_code == 200, response.text


def test_public_client_with_empty_basic_secret(signed_in: World) -> None:
    world = signed_in
    client_id = world.public.client_id
    assert post(world, exchange_data(world, client_id), basic(client_id, "")).status_code == 200


@pytest.mark.parametrize("how", ["basic", "post"])
def test_public_client_sending_a_secret_is_invalid_client(signed_in: World, how: str) -> None:
    world = signed_in
    client_id = world.public.client_id
    data = exchange_data(world, client_id)
    if how == "basic":
        response = post(world, data, basic(client_id, "made-up-secret"))
    else:
        response = post(world, {**data, "client_id": client_id, "client_secret": "made-up-secret"})
    invalid_client(response)


def test_client_auth_errors_come_before_grant_errors(world: World) -> None:
    """A wrong secret is `invalid_client` whatever else is wrong: nothing is learnt about codes without it."""
    response = post(world, {"grant_type": "password"}, basic(world.confidential.client_id, "wrong"))
    invalid_client(response)


# the same rules at every endpoint where clients authenticate (CONTRACT §2 Errors)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_wrong_secret_is_401_with_a_basic_challenge_everywhere(world: World, path: str) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": "sek_rt_x", "token": "sek_at_x"}
    invalid_client(post_to(world, path, data, basic(world.confidential.client_id, "sek_cs_wrong")))
    invalid_client(post_to(world, path, {**data, "client_id": world.confidential.client_id, "client_secret": "no"}))


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_malformed_bodies_are_invalid_request_everywhere(world: World, path: str) -> None:
    for body, content_type in (
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b'{"token": 5}', "application/json"),
        (b'{"token": "\\ud800"}', "application/json"),
        (b"token=a&token=b", "application/x-www-form-urlencoded"),
        (b"token=%FF", "application/x-www-form-urlencoded"),
        (b"token=" + b"a" * (65 * 1024), "application/x-www-form-urlencoded"),
        (b"token=x", "text/plain"),
    ):
        response = world.http.post(path, content=body, headers={"content-type": content_type})
        invalid_request(response)
        assert set(response.json()) == {"error", "error_description"}


def post_to(world: World, path: str, data: dict[str, str], authorization: str | None = None) -> Response:
    headers = {"authorization": authorization} if authorization else {}
    return world.http.post(path, data=data, headers=headers)


@pytest.mark.parametrize("client_id", ["a\x00b", "a%00b"])
def test_a_nul_in_basic_credentials_is_invalid_client_on_every_backend(world: World, client_id: str) -> None:
    # Found by fuzzing (tests/server/test_fuzz.py): PostgreSQL refused the look-up of a client_id with a NUL (a 500).
    header = "Basic " + base64.b64encode(f"{client_id}:secret".encode()).decode()
    response = world.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"authorization": header}
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
