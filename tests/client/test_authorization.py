"""The authorization request (RFC 6749 §4.1.1, RFC 7636) and the checks on the redirect back (§4.1.2, RFC 9207)."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sekisho.client import authorization, oauth
from sekisho.client.authorization import AuthorizationRequest, finish, start
from sekisho.client.discovery import ServerMetadata
from sekisho.client.errors import AuthorizationError, TokenError
from sekisho.protocol.pkce import s256
from tests.client.conftest import REDIRECT, add_client, code_over_http, credentials_of, metadata
from tests.live import LiveServer

ISSUER = "https://as.example"
ENDPOINT = f"{ISSUER}/oauth/authorize"


def request(issuer: str | None = ISSUER) -> AuthorizationRequest:
    return start(
        authorization_endpoint=ENDPOINT,
        client_id="https://app.example/",
        redirect_uri="http://127.0.0.1:8000/callback",
        scope="read:account write:notes",
        issuer=issuer,
    )


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values())
    return {name: values[0] for name, values in parsed.items()}


def test_start_builds_a_pkce_s256_request() -> None:
    made = request()
    assert made.url.startswith(ENDPOINT + "?")
    assert query_of(made.url) == {
        "response_type": "code",
        "client_id": "https://app.example/",
        "redirect_uri": "http://127.0.0.1:8000/callback",
        "scope": "read:account write:notes",
        "state": made.state,
        "code_challenge": s256(made.code_verifier),
        "code_challenge_method": "S256",
    }
    # RFC 7636 §4.1: 43 to 128 unreserved characters.
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", made.code_verifier)
    assert len(made.state) >= 32
    assert made.issuer == ISSUER and made.client_id == "https://app.example/"


def test_every_request_is_fresh() -> None:
    first, second = request(), request()
    assert first.state != second.state and first.code_verifier != second.code_verifier


def test_the_verifier_stays_out_of_repr() -> None:
    made = request()
    assert made.code_verifier not in repr(made)


def test_the_endpoints_own_query_is_kept_and_extra_parameters_added() -> None:
    # RFC 6749 §3.1: the endpoint URI's query component must be retained.
    made = start(
        authorization_endpoint="https://as.example/authorize?tenant=a%20b",
        client_id="c",
        redirect_uri=REDIRECT,
        scope="openid offline_access",
        extra={"prompt": "consent"},
    )
    query = query_of(made.url)
    assert query["tenant"] == "a b" and query["prompt"] == "consent" and query["scope"] == "openid offline_access"


def test_extra_parameters_may_not_replace_the_flows_own() -> None:
    with pytest.raises(ValueError, match="code_challenge_method, state"):
        start(
            authorization_endpoint=ENDPOINT,
            client_id="c",
            redirect_uri=REDIRECT,
            scope="s",
            extra={"state": "fixed", "code_challenge_method": "plain"},
        )


@pytest.mark.parametrize("endpoint", ["http://as.example/authorize", "/oauth/authorize", "https://as.example/a#x"])
def test_an_unsafe_authorization_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(AuthorizationError, match="bad authorization endpoint"):
        start(authorization_endpoint=endpoint, client_id="c", redirect_uri=REDIRECT, scope="s")


def redirect(made: AuthorizationRequest, **params: str) -> str:
    return urlencode({"state": made.state, **params})


def test_finish_returns_the_code() -> None:
    made = request()
    assert finish(made, redirect(made, code="abc", iss=ISSUER), iss_required=True) == "abc"
    assert finish(made, {"code": "abc", "state": made.state, "iss": ISSUER}, iss_required=True) == "abc"


def refusal(made: AuthorizationRequest, query: str, *, iss_required: bool = True) -> str:
    with pytest.raises(AuthorizationError) as caught:
        finish(made, query, iss_required=iss_required)
    return str(caught.value)


def test_a_wrong_or_missing_state_is_refused() -> None:
    made = request()
    assert "state does not match" in refusal(made, urlencode({"code": "abc", "state": "forged", "iss": ISSUER}))
    assert "state does not match" in refusal(made, urlencode({"code": "abc", "iss": ISSUER}))


def test_a_denial_says_so() -> None:
    made = request()
    message = refusal(made, redirect(made, error="access_denied", iss=ISSUER))
    assert message.startswith("you denied access") and "(access_denied)" in message


def test_another_error_carries_its_description_on_one_line() -> None:
    made = request()
    query = redirect(made, error="invalid_scope", error_description="no such\nscope \x1b[31mred", iss=ISSUER)
    assert refusal(made, query) == (
        "the server refused the scope asked for; log in again with another --scope "
        "(invalid_scope: no such scope [31mred)"
    )


def test_an_unknown_error_code() -> None:
    made = request()
    assert refusal(made, redirect(made, error="temporarily_unavailable", iss=ISSUER)) == (
        "run the login again (temporarily_unavailable)"
    )


def test_the_iss_must_be_the_expected_issuer() -> None:
    # RFC 9207 §2.4: a response from another issuer is a mix-up.
    made = request()
    assert "mix-up" in refusal(made, redirect(made, code="abc", iss="https://evil.example"))
    assert "mix-up" in refusal(made, redirect(made, code="abc", iss="https://evil.example"), iss_required=False)


def test_the_iss_is_checked_before_the_state() -> None:
    made = request()
    assert "mix-up" in refusal(made, urlencode({"code": "abc", "state": "forged", "iss": "https://evil.example"}))


def test_a_missing_iss_is_refused_where_the_server_always_sends_one() -> None:
    made = request()
    assert "lacks the iss" in refusal(made, redirect(made, code="abc"))
    assert finish(made, redirect(made, code="abc"), iss_required=False) == "abc"


def test_with_no_issuer_to_expect_an_iss_is_ignored() -> None:
    made = request(issuer=None)
    assert finish(made, redirect(made, code="abc", iss="https://anything.example"), iss_required=False) == "abc"


def test_repeated_parameters_are_refused() -> None:
    made = request()
    query = redirect(made, code="abc", iss=ISSUER) + "&code=other"
    assert refusal(made, query) == "the redirect back repeats code; run the login again"


def test_no_code() -> None:
    made = request()
    assert "carries no code" in refusal(made, redirect(made, iss=ISSUER))
    assert "carries no code" in refusal(made, redirect(made, code="", iss=ISSUER))


@pytest.mark.e2e
def test_against_sekisho_serve(server: LiveServer) -> None:
    found = metadata(server)
    app = add_client(server, "--name", "Authorization test", "--public")
    made = start(
        authorization_endpoint=found.authorization_endpoint,
        client_id=credentials_of(app).client_id,
        redirect_uri=REDIRECT,
        scope="read:account",
        issuer=found.issuer,
    )
    query = code_over_http(server, made)
    assert authorization.parse_callback(query)["iss"] == server.url
    assert finish(made, query, iss_required=True)
    tampered = query.replace("state=", "state=x")
    assert "state does not match" in refusal(made, tampered)


def pushed(found: ServerMetadata, credentials: oauth.ClientCredentials, redirect_uri: str) -> AuthorizationRequest:
    """`authorization.push` of a read:account request to the server `found`."""

    async def go() -> AuthorizationRequest:
        async with httpx.AsyncClient() as http:
            return await authorization.push(
                http,
                pushed_authorization_request_endpoint=str(found.pushed_authorization_request_endpoint),
                authorization_endpoint=found.authorization_endpoint,
                credentials=credentials,
                redirect_uri=redirect_uri,
                scope="read:account",
                issuer=found.issuer,
            )

    return asyncio.run(go())


@pytest.mark.e2e
@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_pushed_against_sekisho_serve(server: LiveServer, public: bool) -> None:
    """RFC 9126: the request goes to /oauth/par; the URL to open holds only client_id and the request_uri."""
    found = metadata(server)
    assert found.pushed_authorization_request_endpoint == server.url + "/oauth/par"
    credentials = credentials_of(add_client(server, "--name", "Pushing test", *(["--public"] if public else [])))
    made = pushed(found, credentials, REDIRECT)
    assert set(parse_qs(urlsplit(made.url).query)) == {"client_id", "request_uri"}
    assert finish(made, code_over_http(server, made), iss_required=True)


@pytest.mark.e2e
def test_a_refused_push_is_a_token_error(server: LiveServer) -> None:
    found = metadata(server)
    credentials = credentials_of(add_client(server, "--name", "Refused push", "--public"))
    with pytest.raises(TokenError) as caught:
        pushed(found, credentials, "http://127.0.0.1/elsewhere")
    assert caught.value.error == "invalid_request" and "\n" not in str(caught.value)
