"""The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9207, RFC 8252 §7.3): exact outcomes, errors included."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from httpx2 import Response
from sqlalchemy import text

from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.registry import register_client
from sekisho.server.store.sql import SqlStore
from tests import sql
from tests.conftest import ISSUER, REDIRECT_URI, World, csrf_of, hidden_fields, redirect_query

LOOPBACK = "http://127.0.0.1/cb"  # registered by the public client


def request_params(world: World, **overrides: str | None) -> dict[str, str]:
    """The public client's request with `overrides` (client_id included)."""
    client_id = overrides.pop("client_id", world.public.client_id)
    params = world.authorize_params(world.public.client_id, **overrides)
    if client_id is None:
        del params["client_id"]
    else:
        params["client_id"] = client_id
    return params


def get(world: World, params: dict[str, str] | str, **headers: str) -> Response:
    if isinstance(params, str):
        return world.http.get("/oauth/authorize?" + params, headers=headers, follow_redirects=False)
    return world.http.get("/oauth/authorize", params=params, headers=headers, follow_redirects=False)


def error_redirect(response: Response, error: str, state: str | None, uri: str = REDIRECT_URI) -> None:
    query = redirect_query(response, uri)
    assert query["error"] == error
    assert query["error_description"]
    assert query["iss"] == ISSUER
    assert query.get("state") == state
    assert set(query) <= {"error", "error_description", "state", "iss"}


def error_page(response: Response, error: str) -> None:
    """CONTRACT §2 Errors: a 400 HTML page naming the error, never a redirect."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert f'<strong id="error-code">{error}</strong>' in response.text


def count(world: World, table: str) -> int:
    return sql.count(world.database, table)


def add_client(world: World, *, redirect_uri: str, public: bool = True, grant_types: Sequence[str] = ()) -> str:
    """Register another client straight in the store the running app reads; returns its client_id."""

    async def add() -> str:
        store = await SqlStore.open(world.database, migrate_schema=False)
        try:
            client, _ = await register_client(
                store,
                name="Another App",
                redirect_uris=[redirect_uri],
                public=public,
                scope=None,
                grant_types=grant_types,
                known_scopes=DEFAULT_SCOPES,
                now=1_700_000_000,
            )
            return client.client_id
        finally:
            await store.close()

    return asyncio.run(add())


def exchange_status(world: World, code: str, verifier: str, redirect_uri: str) -> Response:
    return world.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "client_id": world.public.client_id,
        },
    )


# redirect_uri: exact match, loopback port variance, never an open redirect


NOT_REGISTERED = [
    REDIRECT_URI + "/",
    REDIRECT_URI + "x",
    REDIRECT_URI + "?next=1",
    REDIRECT_URI + "#frag",
    "https://app.example/callback/../callback",
    "https://app.example/Callback",
    "https://APP.example/callback",
    "https://app.example:443/callback",
    "http://app.example/callback",
    "https://app.example.evil.example/callback",
    "https://evil.example/callback",
    "https://app.example%2Fcallback@evil.example/",
    "https://app.example/callback%20",
]


@pytest.mark.parametrize("logged_in", [False, True])
def test_redirect_uri_must_match_exactly(world: World, subtests: pytest.Subtests, logged_in: bool) -> None:
    if logged_in:
        world.login()
    for redirect_uri in NOT_REGISTERED:
        with subtests.test(redirect_uri=redirect_uri):
            response = get(world, world.authorize_params(world.public.client_id, redirect_uri=redirect_uri))
            error_page(response, "invalid_request")
            assert "not registered" in response.text


def test_the_registered_redirect_uri_is_used_verbatim(world: World) -> None:
    world.login()
    params = world.authorize_params(world.confidential.client_id)
    query = world.consent(params)
    assert set(query) == {"code", "state", "iss"}


@pytest.mark.parametrize("port", ["1", "51234", "65535"])
def test_loopback_redirect_uri_port_may_vary(world: World, port: str) -> None:
    world.login()
    redirect_uri = f"http://127.0.0.1:{port}/cb"
    params = world.authorize_params(world.public.client_id, redirect_uri=redirect_uri)
    query = world.consent(params)
    assert query["iss"] == [ISSUER] and query["state"] == [params["state"]]
    verifier = world.verifiers[params["code_challenge"]]
    # The token request must name the very same redirect_uri, port included.
    other = exchange_status(world, query["code"][0], verifier, LOOPBACK)
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    exchanged = exchange_status(world, query["code"][0], verifier, redirect_uri)
    assert exchanged.status_code == 200, exchanged.text


def test_loopback_redirect_without_port_works(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id, redirect_uri=LOOPBACK)
    query = world.consent(params)
    exchanged = exchange_status(world, query["code"][0], world.verifiers[params["code_challenge"]], LOOPBACK)
    assert exchanged.status_code == 200, exchanged.text


LOOPBACK_MISMATCHES = [
    "http://127.0.0.1:8080/cb/",
    "http://127.0.0.1:8080/other",
    "http://127.0.0.1:8080/cb?x=1",
    "http://127.0.0.1:8080/cb#x",
    "http://localhost:8080/cb",
    "http://localhost/cb",
    "http://[::1]:8080/cb",
    "https://127.0.0.1:8080/cb",
    "http://127.0.0.2:8080/cb",
    "http://user@127.0.0.1:8080/cb",
    "http://127.0.0.1:8080@evil.example/cb",
    "http://127.0.0.1:notaport/cb",
    "http://127.0.0.1:99999/cb",
    "http://127.0.0.1:+80/cb",
    "http://127.0.0.1:8080\\evil.example/cb",
]


def test_loopback_variance_is_only_the_port(world: World, subtests: pytest.Subtests) -> None:
    world.login()
    for redirect_uri in LOOPBACK_MISMATCHES:
        with subtests.test(redirect_uri=redirect_uri):
            response = get(world, world.authorize_params(world.public.client_id, redirect_uri=redirect_uri))
            error_page(response, "invalid_request")


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:0/cb", "http://127.0.0.1:08080/cb", "http://127.0.0.1:00080/cb"],
)
def test_loopback_port_zero_and_leading_zeros_are_refused(world: World, redirect_uri: str) -> None:
    """Issue 21 (loopback): port 0 binds any port; "08080" is 8080 to some parsers and refused by others."""
    world.login()
    response = get(world, world.authorize_params(world.public.client_id, redirect_uri=redirect_uri))
    error_page(response, "invalid_request")
    assert "not registered" in response.text
    assert count(world, "authorization_codes") == 0


def test_a_registered_loopback_port_may_change_but_not_vanish(world: World) -> None:
    """Issue 21 (loopback): registered with a port, the app listens there; without one the browser goes to 80."""
    world.login()
    client_id = add_client(world, redirect_uri="http://127.0.0.1:8080/cb")
    for missing in ("http://127.0.0.1/cb", "http://127.0.0.1/cb?x=1"):
        error_page(get(world, world.authorize_params(client_id, redirect_uri=missing)), "invalid_request")
    params = world.authorize_params(client_id, redirect_uri="http://127.0.0.1:51234/cb")
    assert world.consent(params)["iss"] == [ISSUER]


def test_a_confidential_clients_loopback_uri_is_matched_exactly(world: World) -> None:
    """Issue 21 (loopback): RFC 8252 §7.3's port variance is for native apps, public clients only."""
    world.login()
    client_id = add_client(world, redirect_uri="http://127.0.0.1:8080/cb", public=False)
    for other in ("http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "http://127.0.0.1:8081/cb"):
        error_page(get(world, world.authorize_params(client_id, redirect_uri=other)), "invalid_request")
    params = world.authorize_params(client_id, redirect_uri="http://127.0.0.1:8080/cb")
    assert set(world.consent(params)) == {"code", "state", "iss"}


def store_redirect_uris(world: World, client_id: str, *uris: str) -> None:
    """Write redirect URIs past sekisho's rules, as a version before them may have stored."""
    with sql.connect(world.database) as connection:
        connection.execute(
            text("UPDATE clients SET redirect_uris = :uris WHERE client_id = :client_id"),
            {"uris": " ".join(uris), "client_id": client_id},
        )
        connection.commit()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://good@evil.example/cb",
        "https://good%40x@evil.example/cb",
        "https://app.example:443@evil.example/cb",
        "https://evil.example\\@good.example/cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:08080/cb",
    ],
)
def test_a_redirect_uri_stored_before_the_rules_is_refused(world: World, redirect_uri: str) -> None:
    """Issue 21 finding 6: a redirect URI with userinfo (or a bad port) stored earlier is not used either."""
    world.login()
    client_id = add_client(world, redirect_uri=REDIRECT_URI)
    store_redirect_uris(world, client_id, REDIRECT_URI, redirect_uri)
    response = get(world, world.authorize_params(client_id, redirect_uri=redirect_uri))
    error_page(response, "invalid_request")
    assert "not registered" in response.text
    assert world.consent(world.authorize_params(client_id))["iss"] == [ISSUER]  # the other URI still works


def test_port_variance_is_not_granted_to_non_loopback_uris(world: World) -> None:
    world.login()
    params = world.authorize_params(world.confidential.client_id, redirect_uri="https://app.example:8443/callback")
    error_page(get(world, params), "invalid_request")


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"client_id": "no-such-client"}, "invalid_client", "unknown client_id"),
        ({"client_id": None}, "invalid_request", "client_id is required"),
        ({"client_id": "x" * 3000}, "invalid_client", "client_id is too long"),
        ({"redirect_uri": None}, "invalid_request", "redirect_uri is required"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_request", "not registered"),
        ({"redirect_uri": "javascript:alert(1)"}, "invalid_request", "not registered"),
    ],
)
def test_client_and_redirect_problems_are_never_redirected(
    world: World, overrides: dict[str, str | None], error: str, words: str
) -> None:
    world.login()
    # Errors that would otherwise redirect must not win over these.
    for extra in ({}, {"response_type": "token", "code_challenge": None, "scope": "bogus"}):
        response = get(world, request_params(world, **overrides, **extra))
        error_page(response, error)
        assert words in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "no-such-client"}, "invalid_client"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
    ],
)
def test_client_and_redirect_problems_as_json_when_accept_prefers_json(
    world: World, overrides: dict[str, str | None], error: str
) -> None:
    for accept in ("application/json", "application/json, text/html;q=0.5", "*/*, application/json"):
        response = get(world, request_params(world, **overrides), accept=accept)
        assert response.status_code == 400, accept
        assert "location" not in response.headers
        assert response.headers["content-type"] == "application/json", accept
        body = response.json()
        assert set(body) == {"error", "error_description"}
        assert body["error"] == error and body["error_description"]


def test_client_problems_as_html_otherwise(world: World) -> None:
    for accept in ("text/html", "text/html, application/json", "*/*", ""):
        response = get(world, world.authorize_params("no-such-client"), accept=accept)
        error_page(response, "invalid_client")


# response_type


def test_only_response_type_code(world: World, subtests: pytest.Subtests) -> None:
    world.login()
    for response_type in ("token", "code id_token", "id_token", "code token", "none", "Code", "code "):
        with subtests.test(response_type=response_type):
            params = world.authorize_params(world.public.client_id, response_type=response_type)
            error_redirect(get(world, params), "unsupported_response_type", params["state"])
    assert count(world, "authorization_codes") == 0


def test_missing_response_type_is_invalid_request(world: World) -> None:
    params = world.authorize_params(world.public.client_id, response_type=None)
    error_redirect(get(world, params), "invalid_request", params["state"])


def test_client_without_the_code_grant_cannot_ask_for_a_code(world: World) -> None:
    client_id = add_client(world, redirect_uri=REDIRECT_URI, public=False, grant_types=["client_credentials"])
    params = world.authorize_params(client_id)
    error_redirect(get(world, params), "unsupported_response_type", params["state"])


# PKCE (RFC 7636): S256 only, well-formed, required


PKCE_PROBLEMS: list[dict[str, str | None]] = [
    {"code_challenge": None},
    {"code_challenge": None, "code_challenge_method": None},
    {"code_challenge_method": None},  # RFC 7636 §4.3: missing means plain
    {"code_challenge_method": "plain"},
    {"code_challenge_method": "s256"},
    {"code_challenge_method": "S512"},
    {"code_challenge": "a" * 42},
    {"code_challenge": "a" * 44},
    {"code_challenge": "a" * 128},
    {"code_challenge": "+" * 43},
    {"code_challenge": "a" * 42 + "="},
    {"code_challenge": "a" * 42 + "/"},
]


def test_pkce_is_required_and_s256_only(world: World, subtests: pytest.Subtests) -> None:
    world.login()
    for overrides in PKCE_PROBLEMS:
        with subtests.test(**{name: str(value) for name, value in overrides.items()}):
            params = world.authorize_params(world.public.client_id, **overrides)
            error_redirect(get(world, params), "invalid_request", params["state"])
    assert count(world, "authorization_codes") == 0


def test_pkce_errors_redirect_before_login(world: World) -> None:
    params = world.authorize_params(world.public.client_id, code_challenge_method="plain")
    error_redirect(get(world, params), "invalid_request", params["state"])


# scope


def test_unusable_scope_is_invalid_scope(world: World, subtests: pytest.Subtests) -> None:
    world.login()
    for scope in ("bogus", "READ:ACCOUNT", "read:account\\", "openid profile", None):
        with subtests.test(scope=scope):
            params = world.authorize_params(world.public.client_id, scope=scope)
            error_redirect(get(world, params), "invalid_scope", params["state"])


def test_empty_scope_is_treated_as_missing(world: World) -> None:
    params = world.authorize_params(world.public.client_id, scope="")
    error_redirect(get(world, params), "invalid_scope", params["state"])


def test_unknown_scopes_are_dropped_and_duplicates_removed(world: World) -> None:
    world.login()
    scope = "bogus write:notes  read:account write:notes tweet.read"
    code, verifier = world.code(scope=scope)
    tokens = world.exchange(code, verifier)
    assert tokens["scope"] == "write:notes read:account tweet.read"


def test_the_consent_page_lists_the_granted_scopes_in_words(world: World) -> None:
    world.login()
    page = get(world, world.authorize_params(world.public.client_id, scope="read:account bogus write:notes"))
    assert page.status_code == 200
    assert 'data-scope="read:account"' in page.text and 'data-scope="write:notes"' in page.text
    assert "bogus" not in page.text.split('id="scopes"')[1].split("</ul>")[0]
    assert "Read your account information" in page.text and "Post and delete notes as you" in page.text


# RFC 9207 iss and state on every response


STATES = ["s", "a b+c&d=e/f?g#h%20é", "'\"<>{}", "x" * 2000, "  padded  ", "e\u0301", "\ufeffbom\u202e", "%FF+%2B"]


@pytest.mark.parametrize("state", STATES)
def test_success_carries_iss_and_echoes_state_verbatim(world: World, state: str) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id, state=state)
    query = world.consent(params)
    assert query["state"] == [state]
    assert query["iss"] == [ISSUER]
    assert set(query) == {"code", "state", "iss"}


@pytest.mark.parametrize("state", STATES)
def test_errors_carry_iss_and_echo_state_verbatim(world: World, state: str) -> None:
    for overrides, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": "bogus"}, "invalid_scope"),
    ):
        params = world.authorize_params(world.public.client_id, state=state, **overrides)
        error_redirect(get(world, params), error, state)
    world.login()
    params = world.authorize_params(world.public.client_id, state=state)
    assert world.consent(params, decision="deny")["state"] == [state]


@pytest.mark.parametrize("raw", ["%FF", "a%C3", "%ED%A0%80", "ok%C0%AF"])
def test_a_state_that_is_not_utf8_is_refused_not_altered(world: World, raw: str) -> None:
    """Issue 21 (state): `state=%FF` came back as `%EF%BF%BD` (U+FFFD); a state that cannot come back byte for byte
    is refused on the server's page, neither redirected nor changed."""
    world.login()
    params = world.authorize_params(world.public.client_id, state=None)
    for extra in ({}, {"scope": "bogus"}):
        response = get(world, urlencode({**params, **extra}) + "&state=" + raw)
        error_page(response, "invalid_request")
        assert "not valid UTF-8" in response.text
    assert count(world, "authorization_codes") == 0


@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_without_state_no_state_comes_back(world: World, decision: str) -> None:
    world.login()
    query = world.consent(world.authorize_params(world.public.client_id, state=None), decision=decision)
    assert "state" not in query and query["iss"] == [ISSUER]
    error = get(world, world.authorize_params(world.public.client_id, state=None, scope="bogus"))
    error_redirect(error, "invalid_scope", None)


def test_long_state_survives_the_login_detour(world: World) -> None:
    state = "L" * 2000
    params = world.authorize_params(world.public.client_id, state=state)
    first = get(world, params)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
    world.login()  # the helper signs in on its own page; then the browser goes back to `next`
    target = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    consent = world.http.get(target, follow_redirects=False)
    assert consent.status_code == 200
    fields = hidden_fields(consent.text)
    assert fields["state"] == state
    response = world.http.post("/oauth/authorize", data={**fields, "decision": "allow"}, follow_redirects=False)
    assert redirect_query(response)["state"] == state


def test_redirect_keeps_the_registered_query(world: World) -> None:
    """RFC 6749 §3.1.2: the redirect URI's own query is kept; response parameters are added to it."""
    uri = "https://app.example/callback?tenant=7"
    world.login()
    params = world.authorize_params(add_client(world, redirect_uri=uri), redirect_uri=uri)
    page = get(world, params)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "decision": "allow"}, follow_redirects=False
    )
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert location.path == "/callback" and query["tenant"] == ["7"] and query["iss"] == [ISSUER]


# parameters: unknown ignored, order irrelevant, duplicates refused


def test_unknown_parameters_are_ignored(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    extra = {**params, "foo": "bar", "nonce": "n-0S6_WzA2Mj", "access_type": "offline", "ui_locales": "ja"}
    page = get(world, extra)
    assert page.status_code == 200
    fields = hidden_fields(page.text)
    assert "foo" not in fields and "nonce" not in fields
    response = world.http.post("/oauth/authorize", data={**fields, "decision": "allow"}, follow_redirects=False)
    assert "code" in redirect_query(response)


def test_parameter_order_does_not_matter(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    forward = get(world, urlencode(list(params.items())))
    backward = get(world, urlencode(list(reversed(params.items()))))
    assert forward.status_code == backward.status_code == 200
    assert hidden_fields(forward.text) == hidden_fields(backward.text)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(backward.text), "decision": "allow"}, follow_redirects=False
    )
    code = redirect_query(response)["code"]
    assert world.exchange(code, world.verifiers[params["code_challenge"]])["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "name", ["client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method"]
)
def test_duplicated_parameters_are_refused(world: World, name: str) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    for value in (params[name], "other", ""):
        items = [*params.items(), (name, value)]
        response = get(world, urlencode(items))
        error_page(response, "invalid_request")
        assert "more than once" in response.text
        as_json = get(world, urlencode(items), accept="application/json")
        assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert count(world, "authorization_codes") == 0


def test_duplicated_parameters_in_a_post_body_are_refused(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    body = urlencode([*params.items(), ("state", "second")])
    response = world.http.post(
        "/oauth/authorize",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    error_page(response, "invalid_request")


# POST carries the request like GET


def test_post_with_a_form_body_works_like_get(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    by_get = get(world, params)
    by_post = world.http.post("/oauth/authorize", data=params, follow_redirects=False)
    assert by_post.status_code == 200
    assert hidden_fields(by_post.text) == hidden_fields(by_get.text)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(by_post.text), "decision": "allow"}, follow_redirects=False
    )
    query = redirect_query(response)
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    assert world.exchange(query["code"], world.verifiers[params["code_challenge"]])["scope"]


def test_post_errors_behave_like_get(world: World) -> None:
    world.login()
    bad_type = world.authorize_params(world.public.client_id, response_type="token")
    response = world.http.post("/oauth/authorize", data=bad_type, follow_redirects=False)
    error_redirect(response, "unsupported_response_type", bad_type["state"])
    unknown = world.http.post("/oauth/authorize", data=world.authorize_params("no-such-client"), follow_redirects=False)
    error_page(unknown, "invalid_client")


def test_post_not_logged_in_goes_to_login_with_the_request(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    response = world.http.post("/oauth/authorize", data=params, follow_redirects=False)
    assert response.status_code == 303
    target = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
    assert target.startswith("/oauth/authorize?")
    assert dict(parse_qs(urlsplit(target).query)) == {name: [value] for name, value in params.items()}


def test_malformed_post_bodies_are_a_400_page(world: World) -> None:
    for body in (b"\xff\xfe", b"client_id=%FF", b"a=" + b"x" * (64 * 1024), b"client_id=a%00b"):
        response = world.http.post(
            "/oauth/authorize",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        error_page(response, "invalid_request")


# decisions


def test_allow_issues_a_code_bound_to_the_request(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    page = get(world, params)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "decision": "allow"}, follow_redirects=False
    )
    query = redirect_query(response)
    assert set(query) == {"code", "state", "iss"}
    assert query["code"].startswith("sek_ac_")
    # The code travels in the Location header only: not cached, not leaked through Referer.
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert count(world, "authorization_codes") == 1
    [row] = sql.rows(world.database, "SELECT client_id, redirect_uri, scope, code_challenge FROM authorization_codes")
    assert row == (world.public.client_id, REDIRECT_URI, params["scope"], params["code_challenge"])


def test_deny_redirects_with_access_denied(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    page = get(world, params)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "decision": "deny"}, follow_redirects=False
    )
    error_redirect(response, "access_denied", params["state"])
    assert count(world, "authorization_codes") == 0 and count(world, "grants") == 0


def test_an_unknown_decision_is_a_denial(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    page = get(world, params)
    response = world.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "decision": "yes please"}, follow_redirects=False
    )
    error_redirect(response, "access_denied", params["state"])
    assert count(world, "authorization_codes") == 0


def test_a_tampered_consent_form_is_checked_again(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    fields = hidden_fields(get(world, params).text)
    evil = {**fields, "redirect_uri": "https://evil.example/callback", "decision": "allow"}
    error_page(world.http.post("/oauth/authorize", data=evil, follow_redirects=False), "invalid_request")
    plain = {**fields, "code_challenge_method": "plain", "decision": "allow"}
    error_redirect(
        world.http.post("/oauth/authorize", data=plain, follow_redirects=False), "invalid_request", params["state"]
    )
    assert count(world, "authorization_codes") == 0


def test_consent_cannot_be_given_by_a_get_link(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    response = get(world, {**params, "decision": "allow"})
    error_page(response, "invalid_request")
    assert count(world, "authorization_codes") == 0


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_a_decision_by_get_with_a_valid_csrf_token_decides_nothing(world: World, method: str, decision: str) -> None:
    """Issue 21 finding 5: a link or an <img> carrying the page's own CSRF token cannot allow or deny."""
    world.login()
    params = world.authorize_params(world.public.client_id)
    fields = hidden_fields(get(world, params).text)
    assert fields["csrf_token"]
    query = urlencode({**fields, "decision": decision})
    response = world.http.request(method, "/oauth/authorize?" + query, follow_redirects=False)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    if method == "GET":
        error_page(response, "invalid_request")
        assert "accepted only from the consent form (POST)" in response.text
    assert count(world, "authorization_codes") == 0 and count(world, "grants") == 0
    # The same token still decides by POST: the refused GET spent nothing.
    posted = world.http.post("/oauth/authorize", data={**fields, "decision": decision}, follow_redirects=False)
    assert redirect_query(posted)["iss"] == ISSUER


# login


def test_not_logged_in_redirects_to_login_with_next(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    response = get(world, params)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.scheme == "" and location.netloc == "" and location.path == "/login"
    target = parse_qs(location.query)["next"][0]
    assert target.startswith("/oauth/authorize?")
    assert {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()} == params
    assert count(world, "authorization_codes") == 0


def test_unknown_parameters_are_not_carried_through_login(world: World) -> None:
    params = world.authorize_params(world.public.client_id)
    response = get(world, {**params, "foo": "bar"})
    target = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
    assert "foo" not in parse_qs(urlsplit(target).query)


def test_after_logout_consent_needs_login_again(world: World) -> None:
    world.login()
    params = world.authorize_params(world.public.client_id)
    page = get(world, params)
    assert page.status_code == 200
    out = world.http.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    again = get(world, params)
    assert again.status_code == 303 and again.headers["location"].startswith("/login?next=")
    fields = hidden_fields(page.text)
    late = world.http.post("/oauth/authorize", data={**fields, "decision": "allow"}, follow_redirects=False)
    assert late.status_code == 303 and late.headers["location"].startswith("/login?next=")
    assert count(world, "authorization_codes") == 0
