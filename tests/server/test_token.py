"""The token endpoint with the authorization_code grant (RFC 6749 §4.1.3, §5, RFC 7636 §4.5-4.6), and storage."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from httpx2 import Response

from sekisho.errors import InvalidClient
from sekisho.protocol.params import TokenRequest
from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.grants import GrantContext, authorization_code
from sekisho.server.registry import register_client
from sekisho.server.settings import Settings
from sekisho.server.store.driver import sqlite_path
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import ISSUER, REDIRECT_URI, Registered, World

# RFC 7636 Appendix B.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def token(world: World, **kwargs: Any) -> Response:
    return world.http.post("/oauth/token", **kwargs)


def code_request(
    world: World, the_code: str, verifier: str, client: Registered | None = None, **extra: str | None
) -> dict[str, str]:
    client = client or world.public
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": the_code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        **extra,
    }
    return {name: value for name, value in data.items() if value is not None}


def refused(response: Response, error: str, status: int = 400) -> dict[str, str]:
    """An RFC 6749 §5.2 error with the headers every token response carries."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert body["error_description"]
    assert "Traceback" not in response.text
    return body


def api_status(world: World, access_token: object) -> int:
    return world.http.post("/api/i", headers={"Authorization": f"Bearer {access_token}"}).status_code


def add_client(world: World, *, public: bool, grant_types: list[str]) -> Registered:
    async def add() -> Registered:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            client, secret = await register_client(
                store,
                name="Limited",
                redirect_uris=[REDIRECT_URI],
                public=public,
                scope=None,
                grant_types=grant_types,
                known_scopes=DEFAULT_SCOPES,
                now=1_700_000_000,
            )
            return Registered(client.client_id, secret)
        finally:
            await store.close()

    return asyncio.run(add())


def remove_client(world: World, client_id: str) -> None:
    """What `sekisho client remove` does, from another connection than the running app's."""

    async def remove() -> None:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            assert await store.clients.remove(client_id)
        finally:
            await store.close()

    asyncio.run(remove())


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


# success


@pytest.mark.parametrize("encoding", ["form", "form-no-type", "json", "json-charset", "json-suffix"])
def test_form_and_json_bodies(signed_in: World, encoding: str) -> None:
    world = signed_in
    data = code_request(world, *world.code())
    if encoding == "form":
        response = token(world, data=data)
    elif encoding == "form-no-type":
        body = urlencode(data).encode()
        response = token(world, content=body, headers={"content-type": ""})
    else:
        media = {"json": "application/json", "json-charset": "application/json; charset=utf-8"}
        content_type = media.get(encoding, "application/vnd.example+json")
        response = token(world, content=json.dumps(data).encode(), headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    assert response.json()["access_token"].startswith("sek_at_")


def test_token_response_shape_and_headers(signed_in: World) -> None:
    world = signed_in
    response = token(world, data=code_request(world, *world.code()))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and isinstance(body["expires_in"], int)
    assert body["scope"] == "read:account write:notes"
    assert re.fullmatch(r"sek_at_[A-Za-z0-9_-]{43}", body["access_token"])
    assert re.fullmatch(r"sek_rt_[A-Za-z0-9_-]{43}", body["refresh_token"])
    assert api_status(world, body["access_token"]) == 200


def test_the_response_always_carries_scope_even_for_one_scope(signed_in: World) -> None:
    world = signed_in
    body = world.exchange(*world.code(scope="tweet.read"))
    assert body["scope"] == "tweet.read" and body["token_type"] == "Bearer" and body["expires_in"] == 3600


def test_rfc7636_appendix_b_vector(signed_in: World) -> None:
    world = signed_in
    params = world.authorize_params(world.public.client_id, code_challenge=RFC7636_CHALLENGE)
    code = world.consent(params)["code"][0]
    assert world.exchange(code, RFC7636_VERIFIER)["token_type"] == "Bearer"


def test_confidential_client_gets_tokens(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code(world.confidential.client_id)
    body = world.exchange(code, verifier, world.confidential)
    assert api_status(world, body["access_token"]) == 200


# single use


def test_a_code_works_once_and_replay_revokes_what_it_gave(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    first = world.exchange(code, verifier)
    assert api_status(world, first["access_token"]) == 200
    refused(token(world, data=code_request(world, code, verifier)), "invalid_grant")
    # CONTRACT §3: a second use revokes every token issued from that code.
    assert api_status(world, first["access_token"]) == 401
    refresh = token(
        world,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": world.public.client_id,
        },
    )
    refused(refresh, "invalid_grant")
    refused(token(world, data=code_request(world, code, verifier)), "invalid_grant")


def test_replay_does_not_touch_other_grants(signed_in: World) -> None:
    world = signed_in
    other = world.tokens()
    code, verifier = world.code()
    world.exchange(code, verifier)
    refused(token(world, data=code_request(world, code, verifier)), "invalid_grant")
    assert api_status(world, other["access_token"]) == 200


def test_a_removed_clients_code_is_invalid_client_at_once(signed_in: World) -> None:
    world = signed_in
    world.tokens()  # the app has seen the client (and may remember it)
    code, verifier = world.code()
    remove_client(world, world.public.client_id)
    refused(token(world, data=code_request(world, code, verifier)), "invalid_client", status=401)


def test_a_client_changed_since_it_was_read_spends_no_code(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()

    async def exchange_as_stale_client() -> None:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            client = await store.clients.find(world.public.client_id)
            assert client is not None
            stale = replace(client, secret_digest="0" * 64)  # as if removed and registered again
            request = TokenRequest("authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
            ctx = GrantContext(store, Settings(issuer=ISSUER, database=world.database), int(world.clock()))
            await authorization_code.exchange(request, stale, ctx)
        finally:
            await store.close()

    with pytest.raises(InvalidClient):  # the store's statement found it gone: no retry, invalid_client
        asyncio.run(exchange_as_stale_client())
    body = world.exchange(code, verifier)  # the code was neither spent nor taken for a replay
    assert api_status(world, body["access_token"]) == 200


# lifetime


def test_code_lifetime_is_short(signed_in: World) -> None:
    world = signed_in
    world.code()
    [(created, expires)] = sql.rows(world.database, "SELECT created_at, expires_at FROM authorization_codes")
    assert 0 < expires - created <= 300


def test_expired_code_is_invalid_grant(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    world.clock.advance(121)
    body = refused(token(world, data=code_request(world, code, verifier)), "invalid_grant")
    assert "expired" in body["error_description"]


def test_code_works_until_it_expires(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    world.clock.advance(119)
    assert world.exchange(code, verifier)["token_type"] == "Bearer"


# bindings


def test_code_is_bound_to_its_client(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code(world.public.client_id)
    body = refused(token(world, data=code_request(world, code, verifier, world.confidential)), "invalid_grant")
    assert "another client" in body["error_description"]
    code, verifier = world.code(world.confidential.client_id)
    refused(token(world, data=code_request(world, code, verifier, world.public)), "invalid_grant")


def test_code_is_bound_to_its_redirect_uri(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    # Registered for the same client, but not the one the code was issued for.
    body = refused(
        token(world, data=code_request(world, code, verifier, redirect_uri="http://127.0.0.1/cb")), "invalid_grant"
    )
    assert "redirect_uri" in body["error_description"]
    refused(token(world, data=code_request(world, code, verifier, redirect_uri=REDIRECT_URI + "/")), "invalid_grant")


def test_redirect_uri_is_required(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    body = refused(token(world, data=code_request(world, code, verifier, redirect_uri=None)), "invalid_request")
    assert "redirect_uri" in body["error_description"]
    assert world.exchange(code, verifier)["token_type"] == "Bearer"  # the refused request did not use the code


def test_code_is_bound_to_its_pkce_challenge(signed_in: World) -> None:
    world = signed_in
    code, _ = world.code()
    _, other_verifier = world.code()
    refused(token(world, data=code_request(world, code, other_verifier)), "invalid_grant")


def test_missing_verifier_is_invalid_request(signed_in: World) -> None:
    world = signed_in
    code, _ = world.code()
    body = refused(token(world, data=code_request(world, code, "", code_verifier=None)), "invalid_request")
    assert "code_verifier" in body["error_description"]


def test_malformed_verifier_is_invalid_request(signed_in: World) -> None:
    world = signed_in
    code, real = world.code()
    for verifier in ("a" * 42, "a" * 129, real + "a" * 80, "a" * 42 + "!", "a" * 42 + " ", "a" * 42 + "+", "é" * 43):
        refused(token(world, data=code_request(world, code, verifier)), "invalid_request")
    assert world.exchange(code, real)["token_type"] == "Bearer"  # refusals did not use the code


def test_verifier_lengths_43_and_128_work(signed_in: World) -> None:
    world = signed_in
    for verifier in ("A" * 43, "-._~" * 32):
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = world.authorize_params(world.public.client_id, code_challenge=challenge)
        code = world.consent(params)["code"][0]
        assert world.exchange(code, verifier)["token_type"] == "Bearer"


def test_unknown_and_missing_code(signed_in: World) -> None:
    world = signed_in
    _, verifier = world.code()
    refused(token(world, data=code_request(world, "sek_ac_" + "A" * 43, verifier)), "invalid_grant")
    refused(token(world, data=code_request(world, "not a code at all", verifier)), "invalid_grant")
    refused(token(world, data=code_request(world, "", verifier, code=None)), "invalid_request")


# grant types


def test_unsupported_grant_types(world: World, subtests: pytest.Subtests) -> None:
    for grant_type in (
        "password",
        "implicit",
        "token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "AUTHORIZATION_CODE",
        "authorization_code ",
    ):
        with subtests.test(grant_type=grant_type):
            data = {
                "grant_type": grant_type,
                "username": "alice",
                "password": "correct horse battery",
                "client_id": world.public.client_id,
            }
            refused(token(world, data=data), "unsupported_grant_type")


def test_password_grant_is_not_offered_even_to_a_confidential_client(world: World) -> None:
    secret = world.confidential.client_secret
    assert secret
    data = {"grant_type": "password", "username": "alice", "password": "correct horse battery", "scope": "read:account"}
    body = refused(token(world, data=data, auth=(world.confidential.client_id, secret)), "unsupported_grant_type")
    assert "access_token" not in body


def test_missing_grant_type_is_invalid_request(world: World) -> None:
    refused(token(world, data={"client_id": world.public.client_id, "code": "x"}), "invalid_request")


def test_client_without_the_refresh_grant_is_unauthorized_client(signed_in: World) -> None:
    world = signed_in
    limited = add_client(world, public=True, grant_types=["authorization_code"])
    code, verifier = world.code(limited.client_id)
    body = world.exchange(code, verifier, limited)
    assert "refresh_token" not in body  # nothing to refresh with
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    data = {"grant_type": "refresh_token", "refresh_token": "sek_rt_whatever", "client_id": limited.client_id}
    refused(token(world, data=data), "unauthorized_client")


def test_client_without_the_code_grant_is_unauthorized_client(world: World) -> None:
    machine = add_client(world, public=False, grant_types=["client_credentials"])
    assert machine.client_secret
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI, "code_verifier": "a" * 43}
    refused(token(world, data=data, auth=(machine.client_id, machine.client_secret)), "unauthorized_client")


# malformed input: always 400 invalid_request, never a 500


def post_raw(world: World, body: bytes | Iterator[bytes], content_type: str | None) -> Response:
    headers = {} if content_type is None else {"content-type": content_type}
    return token(world, content=body, headers=headers)


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


MALFORMED = [
    (b"{not json", JSON),
    (b'["grant_type", "authorization_code"]', JSON),
    (b'"authorization_code"', JSON),
    (b"null", JSON),
    (b"42", JSON),
    (b"", JSON),
    (b'{"grant_type": 1}', JSON),
    (b'{"grant_type": "authorization_code", "code": 12345}', JSON),
    (b'{"grant_type": "authorization_code", "code": true}', JSON),
    (b'{"grant_type": "authorization_code", "code": ["a", "b"]}', JSON),
    (b'{"grant_type": "authorization_code", "code": {"a": "b"}}', JSON),
    (b'{"grant_type": "authorization_code", "code": 1e999}', JSON),
    (b'{"grant_type": "authorization_code"' + b', "code": "\xff\xfe"}', JSON),
    (b"\xff\xfe\xfd", JSON),
    (b"[" * 100_000 + b"]" * 100_000, JSON),
    (b'{"grant_type": "authorization_code", "code": "a\\u0000b"}', JSON),
    (b"grant_type=authorization_code&code=\xff", FORM),
    (b"grant_type=authorization_code&code=%FF%FE", FORM),
    (b"grant_type=authorization_code&code=%ED%A0%80", FORM),
    (b"grant_type=authorization_code&grant_type=authorization_code", FORM),
    (b"grant_type=authorization_code&code=a&code=b", FORM),
    (b"grant_type=authorization_code&code=a%00b", FORM),
    (b"grant_type=authorization_code&code=a%0Ab", FORM),
    (b"grant_type=authorization_code&code=" + b"a" * 9000, FORM),
    (b"grant_type=authorization_code", "text/plain"),
    (b"grant_type=authorization_code", "multipart/form-data; boundary=x"),
    (b"", FORM),
    (b"&&&===&", FORM),
    ('{"grant_type": "authorization_code"}'.encode("utf-16"), JSON),
    (b'{"grant_type": "authorization_code", "grant_type": "refresh_token"}', JSON),
]


def test_malformed_bodies_are_invalid_request(world: World, subtests: pytest.Subtests) -> None:
    for body, content_type in MALFORMED:
        with subtests.test(body=body[:60], content_type=content_type):
            refused(post_raw(world, body, content_type), "invalid_request")


@pytest.mark.parametrize("content_type", [FORM, JSON])
def test_a_body_over_64_kib_is_refused(world: World, content_type: str) -> None:
    big = b"grant_type=authorization_code&x=" + b"a" * (64 * 1024)
    refused(post_raw(world, big, content_type), "invalid_request")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(100):
            yield b"a" * 1024

    refused(post_raw(world, chunks(), content_type), "invalid_request")


def test_a_lying_content_length_is_refused(world: World) -> None:
    response = token(world, content=b"grant_type=x", headers={"content-type": FORM, "content-length": "99999999"})
    refused(response, "invalid_request")


def test_lone_surrogates_in_json_are_refused_cleanly(world: World) -> None:
    for body in (
        b'{"grant_type": "authorization_code", "client_id": "\\ud800"}',
        b'{"grant_type": "\\udfff", "client_id": "x"}',
        b'{"grant_type": "authorization_code", "client_id": "%s", "code": "\\ud800", "code_verifier": "%s", '
        b'"redirect_uri": "\\ud800"}' % (world.public.client_id.encode(), b"a" * 43),
    ):
        response = post_raw(world, body, JSON)
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] in ("invalid_request", "invalid_client", "invalid_grant")


def test_json_null_values_count_as_absent(signed_in: World) -> None:
    world = signed_in
    data: dict[str, Any] = {**code_request(world, *world.code()), "scope": None, "client_secret": None}
    response = token(world, json=data)
    assert response.status_code == 200, response.text


def test_duplicate_json_members_are_refused(signed_in: World) -> None:
    world = signed_in
    code, verifier = world.code()
    data = code_request(world, code, verifier)
    body = json.dumps(data)[:-1] + ', "code": "sek_ac_other"}'
    refused(post_raw(world, body.encode(), JSON), "invalid_request")


def test_every_error_has_no_store_headers(world: World) -> None:
    for data in (
        {"grant_type": "authorization_code"},
        {"grant_type": "refresh_token"},
        {"grant_type": "nope"},
        {"grant_type": "nope", "client_id": world.public.client_id},
        {},
    ):
        response = token(world, data=data)
        assert response.status_code in (400, 401), data
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        assert response.headers["access-control-allow-origin"] == "*"


def test_other_methods_are_refused_without_a_500(world: World) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = world.http.request(method, "/oauth/token")
        assert response.status_code == 405
        assert response.json()["error"] == "invalid_request"


# storage: digests only


def test_storage_keeps_only_digests(signed_in: World) -> None:
    world = signed_in
    secret = world.confidential.client_secret
    assert secret
    code, verifier = world.code(world.confidential.client_id)
    first = world.exchange(code, verifier, world.confidential)
    refreshed = world.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(world.confidential.client_id, secret),
    ).json()
    session = world.http.cookies["sekisho_session"]
    csrf = world.http.cookies["sekisho_csrf"]
    raw = {
        "code": code,
        "verifier": verifier,
        "access": str(first["access_token"]),
        "refresh": str(first["refresh_token"]),
        "access2": str(refreshed["access_token"]),
        "refresh2": str(refreshed["refresh_token"]),
        "client_secret": secret,
        "session": session,
        "csrf": csrf,
    }
    assert session.startswith("sek_ss_")

    values = list(sql.every_value(world.database))
    for table, column, value in values:
        for name, secret_value in raw.items():
            assert secret_value not in str(value), f"raw {name} stored in {table}.{column}"
    # Also not in SQLite's files themselves (main database and write-ahead log).
    path = Path(sqlite_path(world.database)) if world.database.startswith("sqlite") else Path("/nonexistent")
    for file in path.parent.glob(path.name + "*"):
        content = file.read_bytes()
        for name, secret_value in raw.items():
            assert secret_value.encode() not in content, f"raw {name} in {file.name}"

    digests = [(t, c, v) for t, c, v in values if c in ("digest", "secret_digest") and v is not None]
    assert digests and all(re.fullmatch(r"[0-9a-f]{64}", str(v)) for _, _, v in digests)
    found = {str(v) for _, _, v in digests}
    for name in ("code", "access", "refresh", "access2", "refresh2", "client_secret", "session"):
        assert hashlib.sha256(raw[name].encode()).hexdigest() in found, f"{name} is not stored by its SHA-256"

    hashes = [str(v) for t, c, v in values if (t, c) == ("users", "password_hash")]
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in hashes)
    assert all("correct horse battery" not in str(v) for _, _, v in values)


def test_secrets_never_reach_the_log(signed_in: World, caplog: pytest.LogCaptureFixture) -> None:
    world = signed_in
    caplog.set_level(logging.DEBUG)
    secret = world.confidential.client_secret
    assert secret
    code, verifier = world.code(world.confidential.client_id)
    first = world.exchange(code, verifier, world.confidential)
    token(world, data=code_request(world, code, verifier, world.confidential))  # replay, logged with its detail
    token(world, data=code_request(world, code, verifier, world.confidential, client_secret="sek_cs_wrong-guess"))
    token(world, data={"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}, auth=("x", "y"))
    assert caplog.records, "the refusals above are logged"
    for value in (
        code,
        verifier,
        secret,
        "sek_cs_wrong-guess",
        str(first["access_token"]),
        str(first["refresh_token"]),
    ):
        assert value not in caplog.text


def test_tokens_act_for_the_user_who_consented(world: World) -> None:
    world.login("bob")
    tokens = world.tokens()
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["username"] == "bob"
