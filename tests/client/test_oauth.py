"""The token endpoint and revocation: exchange_code, refresh, revoke; their credentials, answers and errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sekisho.client import oauth
from sekisho.client.errors import TokenError
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.protocol.credentials import parse_basic
from tests.client.conftest import add_client, credentials_of, introspect, metadata, run, tokens_over_http
from tests.live import LiveServer, free_port

ENDPOINT = "https://as.example/oauth/token"
NOW = 1_800_000_000.0
PUBLIC = ClientCredentials("public-app")
CONFIDENTIAL = ClientCredentials("app:1 ü", "se cret/+=%")


def answering(reply: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return reply(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def refresh_with(
    reply: httpx.Response | Callable[[httpx.Request], httpx.Response],
    credentials: ClientCredentials = PUBLIC,
    seen: list[httpx.Request] | None = None,
    url: str = ENDPOINT,
) -> TokenSet:
    async def go() -> TokenSet:
        respond = reply if callable(reply) else (lambda request: reply)
        async with answering(respond, [] if seen is None else seen) as http:
            return await oauth.refresh(http, url, credentials, "old-refresh", now=NOW)

    return run(go())


def form_of(request: httpx.Request) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(request.content.decode()).items()}


def ok(**body: Any) -> httpx.Response:
    return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", **body})


def token_error(reply: httpx.Response, url: str = ENDPOINT) -> TokenError:
    with pytest.raises(TokenError) as caught:
        refresh_with(reply, url=url)
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_public_client_sends_its_id_in_the_form() -> None:
    seen: list[httpx.Request] = []
    refresh_with(ok(), PUBLIC, seen)
    [request] = seen
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert form_of(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "old-refresh",
        "client_id": "public-app",
    }


def test_a_confidential_client_uses_http_basic_with_form_urlencoded_parts() -> None:
    seen: list[httpx.Request] = []
    refresh_with(ok(), CONFIDENTIAL, seen)
    [request] = seen
    # RFC 6749 §2.3.1: decoded the way sekisho's server (and X) decode it.
    assert parse_basic(request.headers["authorization"]) == ("app:1 ü", "se cret/+=%")
    assert "client_id" not in form_of(request)


def test_the_secret_stays_out_of_repr() -> None:
    assert "se cret" not in repr(CONFIDENTIAL)
    assert "at-secret" not in repr(TokenSet("at-secret", refresh_token="rt-secret"))


def test_a_token_response_becomes_a_token_set() -> None:
    answer = ok(expires_in=7200, refresh_token="new-refresh", scope="tweet.read offline.access", token_type="bearer")
    assert refresh_with(answer) == TokenSet("at", "Bearer", NOW + 7200, "new-refresh", "tweet.read offline.access")


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    # RFC 6749 §6: the server may keep the refresh token as it is.
    assert refresh_with(ok(expires_in="60")) == TokenSet("at", "Bearer", NOW + 60, "old-refresh", "")


def test_tokens_without_expires_in_never_expire() -> None:
    tokens = refresh_with(ok())
    assert tokens.expires_at is None and not tokens.expires_within(10**9, NOW)


def test_expires_within() -> None:
    tokens = TokenSet("at", expires_at=NOW + 60)
    assert tokens.expires_within(60, NOW) and not tokens.expires_within(59, NOW)


def test_token_set_json_round_trip() -> None:
    tokens = TokenSet("at", "Bearer", NOW + 1.5, "rt", "a b")
    assert TokenSet.from_json(tokens.to_json()) == tokens
    assert TokenSet.from_json(TokenSet("at").to_json()) == TokenSet("at")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "tokens is not an object"),
        ({"token_type": "Bearer", "scope": ""}, "access_token"),
        ({"access_token": "at", "token_type": "Bearer", "scope": "", "expires_at": True}, "expires_at"),
        ({"access_token": "at", "token_type": "Bearer", "scope": 3}, "scope"),
    ],
)
def test_token_set_from_bad_json(data: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TokenSet.from_json(data)


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (httpx.Response(200, json={"token_type": "Bearer"}), "lacks an access_token"),
        (ok(token_type="mac"), "only Bearer tokens"),
        (ok(expires_in="soon"), "expires_in is not a number"),
        (httpx.Response(200, text="<html>"), "answered 200 without a JSON object"),
        (httpx.Response(502, text="Bad Gateway"), "answered 502 without a JSON object"),
        (httpx.Response(500, json={"error": "server_error"}), "answered 500; try again later"),
        (httpx.Response(200, json=["at"]), "answered 200 without a JSON object"),
    ],
)
def test_unusable_answers_are_server_errors(reply: httpx.Response, said: str) -> None:
    error = token_error(reply)
    assert error.error == "server_error" and said in str(error)


def test_an_rfc_6749_error_carries_code_and_description() -> None:
    error = token_error(httpx.Response(401, json={"error": "invalid_client", "error_description": "who are you"}))
    assert (error.error, error.description) == ("invalid_client", "who are you")
    assert str(error) == (
        "the server refused (invalid_client: who are you); "
        "the server does not accept this app's id or secret; check --client-id and --client-secret"
    )


def test_a_refused_refresh_token_means_the_login_ended() -> None:
    error = token_error(httpx.Response(400, json={"error": "invalid_grant"}))
    assert error.error == "invalid_grant" and str(error) == oauth.LOGIN_ENDED


def test_credentials_are_never_sent_over_plain_http() -> None:
    error = token_error(ok(), url="http://as.example/oauth/token")
    assert error.error == "invalid_request" and "plain http" in str(error)


def test_exchange_code_sends_the_verifier_and_redirect_uri() -> None:
    seen: list[httpx.Request] = []

    async def go() -> TokenSet:
        async with answering(lambda request: ok(expires_in=3600), seen) as http:
            return await oauth.exchange_code(
                http,
                ENDPOINT,
                PUBLIC,
                code="the-code",
                code_verifier="v" * 43,
                redirect_uri="http://127.0.0.1/cb",
                now=NOW,
            )

    assert run(go()).expires_at == NOW + 3600
    assert form_of(seen[0]) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": "v" * 43,
        "client_id": "public-app",
    }


def revoke_with(reply: httpx.Response, seen: list[httpx.Request]) -> None:
    async def go() -> None:
        async with answering(lambda request: reply, seen) as http:
            await oauth.revoke(http, "https://as.example/oauth/revoke", PUBLIC, "tok", hint="refresh_token")

    run(go())


def test_revoke_accepts_any_200() -> None:
    seen: list[httpx.Request] = []
    revoke_with(httpx.Response(200, text=""), seen)
    assert form_of(seen[0]) == {"token": "tok", "token_type_hint": "refresh_token", "client_id": "public-app"}


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (httpx.Response(400, json={"error": "unsupported_token_type"}), "unsupported_token_type"),
        (httpx.Response(503, text="later"), "server_error"),
    ],
)
def test_revoke_refused(reply: httpx.Response, code: str) -> None:
    with pytest.raises(TokenError) as caught:
        revoke_with(reply, [])
    assert caught.value.error == code


@pytest.mark.e2e
def test_a_closed_port_is_a_token_error() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await oauth.refresh(http, f"http://127.0.0.1:{free_port()}/oauth/token", PUBLIC, "rt", now=NOW)

    with pytest.raises(TokenError, match="could not reach .*ConnectError") as caught:
        run(go())
    assert caught.value.error == "server_error"


def live_refresh(server: LiveServer, credentials: ClientCredentials, refresh_token: str) -> TokenSet:
    async def go() -> TokenSet:
        async with httpx.AsyncClient() as http:
            return await oauth.refresh(http, server.url + "/oauth/token", credentials, refresh_token, now=time.time())

    return run(go())


def live_revoke(server: LiveServer, credentials: ClientCredentials, token: str) -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await oauth.revoke(http, server.url + "/oauth/revoke", credentials, token)

    run(go())


@pytest.mark.e2e
@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_code_refresh_and_revoke_against_sekisho_serve(server: LiveServer, public: bool) -> None:
    app = credentials_of(add_client(server, "--name", "Token test", *(["--public"] if public else [])))
    before = time.time()
    tokens = tokens_over_http(server, app)
    assert tokens.token_type == "Bearer" and tokens.scope == "read:account write:notes"
    assert tokens.expires_at is not None and before + 3600 <= tokens.expires_at <= time.time() + 3600
    assert tokens.refresh_token and introspect(server, tokens.access_token)["active"] is True

    refreshed = live_refresh(server, app, tokens.refresh_token)
    assert refreshed.refresh_token not in (None, tokens.refresh_token)  # rotated
    assert introspect(server, refreshed.access_token)["active"] is True

    assert refreshed.refresh_token is not None
    live_revoke(server, app, refreshed.refresh_token)
    assert introspect(server, refreshed.access_token) == {"active": False}
    with pytest.raises(TokenError) as caught:
        live_refresh(server, app, refreshed.refresh_token)
    assert caught.value.error == "invalid_grant" and str(caught.value) == oauth.LOGIN_ENDED


@pytest.mark.e2e
def test_reusing_a_rotated_refresh_token_ends_the_login(server: LiveServer) -> None:
    app = credentials_of(add_client(server, "--name", "Replay test", "--public"))
    tokens = tokens_over_http(server, app)
    assert tokens.refresh_token is not None
    rotated = live_refresh(server, app, tokens.refresh_token)
    with pytest.raises(TokenError, match="this login has ended"):
        live_refresh(server, app, tokens.refresh_token)
    assert introspect(server, rotated.access_token) == {"active": False}  # the whole family is revoked


@pytest.mark.e2e
def test_a_wrong_secret_is_invalid_client(server: LiveServer) -> None:
    app = add_client(server, "--name", "Secret test")
    tokens = tokens_over_http(server, credentials_of(app))
    assert tokens.refresh_token is not None
    with pytest.raises(TokenError) as caught:
        live_refresh(server, ClientCredentials(app["client_id"], "wrong"), tokens.refresh_token)
    assert caught.value.error == "invalid_client" and "--client-secret" in str(caught.value)


@pytest.mark.e2e
def test_metadata_endpoints_are_the_ones_used(server: LiveServer) -> None:
    found = metadata(server)
    assert (found.token_endpoint, found.revocation_endpoint) == (
        server.url + "/oauth/token",
        server.url + "/oauth/revoke",
    )
