"""The OpenID conformance suite's authorization-code modules, as named tests (SECURITY.md's checklist cites the suite).

Each test is named after the suite module it mirrors: `oidcc-*` from the OIDC Basic OP plan, `fapi*-*` where only
the FAPI plans have the case. sekisho is not an OpenID Provider (no id_token, no `openid` scope), so each module is
kept to its OAuth 2.0 part; the two cases the suite has no module for say so.

test → conformance module: what it pins
- test_oidcc_codereuse → oidcc-codereuse (fapi*-attempt-reuse-authorization-code-after-one-second): a second
  exchange 1 s later is invalid_grant, and the first exchange's tokens are revoked (introspection, API, refresh).
- test_oidcc_codereuse_30seconds → oidcc-codereuse-30seconds: the same 30 s later, tokens refreshed meanwhile too.
- test_expired_authorization_code → no module (RFC 6749 §4.1.2, CONTRACT §3): a code at its expiry is invalid_grant.
- test_fapi_ensure_authorization_code_is_bound_to_client → fapi*-ensure-authorization-code-is-bound-to-client:
  another client gets invalid_grant; nothing issued, the code not used up, nothing revoked.
- test_oidcc_ensure_registered_redirect_uri → oidcc-ensure-registered-redirect-uri: a near-miss redirect_uri
  (path, port, query, case, slash, userinfo, …) is a 400 page, never a redirect.
- test_oidcc_ensure_redirect_uri_in_authorization_request → oidcc-ensure-redirect-uri-in-authorization-request:
  no redirect_uri is a 400 page, even for a client with one registered (CONTRACT §3: required in both requests);
  test_token_request_repeats_the_redirect_uri is its token half: missing → invalid_request, different → invalid_grant.
- test_fapi_ensure_authorization_request_with_long_state → fapi*-ensure-authorization-request-with-long-state:
  2,000+ characters, odd ones included, come back byte for byte, through the login detour too.
- test_oidcc_ensure_other_scope_order_succeeds → oidcc-ensure-other-scope-order-succeeds: either order gives the
  same grant; the token response carries `scope`.
- test_oidcc_ensure_request_with_unknown_parameter_succeeds → oidcc-ensure-request-with-unknown-parameter-succeeds:
  unknown parameters (OIDC's `prompt`, `nonce`, … are unknown here) are ignored at authorize and token.
- test_fapi_user_rejects_authentication → fapi1-advanced-final-user-rejects-authentication: deny redirects with
  error=access_denied, state and iss; nothing issued.
- test_oidcc_ensure_post_request_succeeds → oidcc-ensure-post-request-succeeds: a form-POSTed authorization request
  is served like GET (CONTRACT §2: GET/POST /oauth/authorize).
- test_oidcc_refresh_token → oidcc-refresh-token: a refresh token used by another client is invalid_grant and its
  family is kept.
- test_fapi_access_token_type_header_case_sensitivity → fapi*-access-token-type-header-case-sensitivity: `bearer`,
  `BEARER`, `BeArEr` work at /api/i and /2/users/me (and `basic` at introspection).

Time: the app reads only `world.clock` (tests/conftest.py `Clock`), never the wall clock, so "after 1 s" and
"after 30 s" move that clock instead of sleeping.
"""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
from httpx2 import Response

from tests import sql
from tests.conftest import ISSUER, REDIRECT_URI, Registered, World, csrf_of, hidden_fields, redirect_query

SCOPE = "read:account write:notes users.read"  # reaches both demo dialects: /api/i and /2/users/me
LOOPBACK = "http://127.0.0.1/cb"  # the public client's second registered redirect URI


@pytest.fixture
def signed_in(world: World) -> World:
    world.login()
    return world


def client_of(world: World, kind: str) -> Registered:
    return {"public": world.public, "confidential": world.confidential}[kind]


# the token endpoint


def code_request(world: World, code: str, verifier: str, client: Registered, **extra: str | None) -> dict[str, str]:
    """An authorization_code token request; a confidential client authenticates with client_secret_post."""
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        **extra,
    }
    return {name: value for name, value in data.items() if value is not None}


def post_token(world: World, data: dict[str, str]) -> Response:
    return world.http.post("/oauth/token", data=data)


def refresh(world: World, refresh_token: object, client: Registered) -> Response:
    data = {"grant_type": "refresh_token", "refresh_token": str(refresh_token), "client_id": client.client_id}
    if client.client_secret:
        data["client_secret"] = client.client_secret
    return post_token(world, data)


def granted(response: Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert body["token_type"] == "Bearer" and body["scope"]
    return body


def refused(response: Response, error: str, status: int = 400) -> str:
    """An RFC 6749 §5.2 error; returns its description."""
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    description: str = body["error_description"]
    assert description
    return description


def tokens_issued(world: World) -> int:
    return sql.count(world.database, "access_tokens")


# what a token is worth at the resource endpoints and at introspection


def introspect(world: World, token: object, scheme: str = "Basic") -> dict[str, object]:
    """RFC 7662, as the world's resource server (which may introspect every client's tokens)."""
    caller = world.resource_server
    credentials = base64.b64encode(f"{caller.client_id}:{caller.client_secret}".encode()).decode()
    response = world.http.post(
        "/oauth/introspect", data={"token": str(token)}, headers={"Authorization": f"{scheme} {credentials}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def api_i(world: World, access_token: object, scheme: str = "Bearer") -> Response:
    return world.http.post("/api/i", headers={"Authorization": f"{scheme} {access_token}"})


def users_me(world: World, access_token: object, scheme: str = "Bearer") -> Response:
    return world.http.get("/2/users/me", headers={"Authorization": f"{scheme} {access_token}"})


def assert_alive(world: World, tokens: dict[str, object]) -> None:
    assert introspect(world, tokens["access_token"])["active"] is True
    assert api_i(world, tokens["access_token"]).status_code == 200
    assert users_me(world, tokens["access_token"]).status_code == 200
    if "refresh_token" in tokens:
        assert introspect(world, tokens["refresh_token"])["active"] is True


def assert_revoked(world: World, tokens: dict[str, object], client: Registered) -> None:
    """Dead everywhere: introspection, both API dialects (RFC 6750 invalid_token), and the refresh grant."""
    assert introspect(world, tokens["access_token"]) == {"active": False}
    for response in (api_i(world, tokens["access_token"]), users_me(world, tokens["access_token"])):
        assert response.status_code == 401, response.text
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert introspect(world, tokens["refresh_token"]) == {"active": False}
    refused(refresh(world, tokens["refresh_token"], client), "invalid_grant")


# the authorization endpoint


def authorize(world: World, params: dict[str, str], method: str = "GET", **headers: str) -> Response:
    if method == "POST":
        return world.http.post("/oauth/authorize", data=params, headers=headers, follow_redirects=False)
    return world.http.get("/oauth/authorize", params=params, headers=headers, follow_redirects=False)


def press(world: World, consent_page: Response, decision: str = "allow", **tampered: str) -> Response:
    """Press a button of the consent page, sending back the form as the page holds it (unless `tampered`)."""
    assert consent_page.status_code == 200, consent_page.text
    form = {**hidden_fields(consent_page.text), **tampered, "decision": decision}
    return world.http.post("/oauth/authorize", data=form, follow_redirects=False)


def never_redirected(response: Response, error: str, words: str, uri: str | None = None) -> None:
    """CONTRACT §2: a 400 page naming the error; no Location, no refresh, no link to the refused URI."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers and "refresh" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert f'<strong id="error-code">{error}</strong>' in response.text
    assert words in response.text
    assert "http-equiv" not in response.text.lower()
    if uri:
        assert uri not in response.text and html.escape(uri) not in response.text


# 1, 2: code reuse


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_oidcc_codereuse(signed_in: World, kind: str) -> None:
    """oidcc-codereuse: a code used a second time, 1 s later, is refused and revokes what the first use gave."""
    world, client = signed_in, client_of(signed_in, kind)
    code, verifier = world.code(client.client_id, scope=SCOPE)
    first = granted(post_token(world, code_request(world, code, verifier, client)))
    assert_alive(world, first)
    world.clock.advance(1)
    description = refused(post_token(world, code_request(world, code, verifier, client)), "invalid_grant")
    assert "already used" in description
    assert_revoked(world, first, client)  # CONTRACT §3: a second use revokes every token issued from that code
    refused(post_token(world, code_request(world, code, verifier, client)), "invalid_grant")  # and stays refused
    assert tokens_issued(world) == 1


def test_oidcc_codereuse_30seconds(signed_in: World) -> None:
    """oidcc-codereuse-30seconds: the same 30 s later (within the code's lifetime), after the client refreshed."""
    world, client = signed_in, signed_in.confidential
    bystander = world.exchange(*world.code(client.client_id, scope=SCOPE), client)  # another grant, same pair
    code, verifier = world.code(client.client_id, scope=SCOPE)
    first = granted(post_token(world, code_request(world, code, verifier, client)))
    world.clock.advance(10)
    rotated = granted(refresh(world, first["refresh_token"], client))
    assert_alive(world, rotated)
    world.clock.advance(20)
    description = refused(post_token(world, code_request(world, code, verifier, client)), "invalid_grant")
    assert "already used" in description
    # The whole grant is gone: what the code gave, and what its refresh token was rotated into.
    assert introspect(world, first["access_token"]) == {"active": False}
    assert api_i(world, first["access_token"]).status_code == 401
    assert_revoked(world, rotated, client)
    assert_alive(world, bystander)


# 3: expiry


def test_expired_authorization_code(signed_in: World) -> None:
    """No suite module (RFC 6749 §4.1.2, CONTRACT §3: ≤ 5 min): a code at its expiry time is invalid_grant."""
    world = signed_in
    on_time, on_time_verifier = world.code(scope=SCOPE)
    late, late_verifier = world.code(scope=SCOPE)
    [(created, expires)] = set(sql.rows(world.database, "SELECT created_at, expires_at FROM authorization_codes"))
    assert 0 < expires - created <= 300
    world.clock.advance(expires - 1 - world.clock())
    granted(post_token(world, code_request(world, on_time, on_time_verifier, world.public)))
    world.clock.advance(1)
    description = refused(post_token(world, code_request(world, late, late_verifier, world.public)), "invalid_grant")
    assert "expired" in description
    world.clock.advance(3600)
    refused(post_token(world, code_request(world, late, late_verifier, world.public)), "invalid_grant")
    assert tokens_issued(world) == 1


# 4: binding to the client


def test_fapi_ensure_authorization_code_is_bound_to_client(signed_in: World) -> None:
    """Another client presenting a code gets invalid_grant: no token, the code not burned, nothing revoked.

    RFC 6749 §4.1.2 would allow revoking; sekisho does not: the client the code belongs to did nothing wrong, and
    anyone who saw a code (a log, a Referer) could otherwise end that client's grant by presenting it as theirs.
    """
    world = signed_in
    for owner, other in ((world.public, world.confidential), (world.confidential, world.public)):
        code, verifier = world.code(owner.client_id, scope=SCOPE)
        before = tokens_issued(world)
        description = refused(post_token(world, code_request(world, code, verifier, other)), "invalid_grant")
        assert "another client" in description
        assert tokens_issued(world) == before
        tokens = granted(post_token(world, code_request(world, code, verifier, owner)))  # still the owner's
        # A used code presented by another client: refused, and the owner's tokens live on.
        description = refused(post_token(world, code_request(world, code, verifier, other)), "invalid_grant")
        assert "another client" in description
        assert_alive(world, tokens)


# 5, 6: redirect URIs


NEAR_MISSES = {
    "extra path": REDIRECT_URI + "/extra",
    "shorter path": "https://app.example/call",
    "trailing slash": REDIRECT_URI + "/",
    "path case": "https://app.example/Callback",
    "host case": "https://APP.example/callback",
    "scheme case": "HTTPS://app.example/callback",
    "http": "http://app.example/callback",
    "other port": "https://app.example:8443/callback",
    "explicit default port": "https://app.example:443/callback",
    "added query": REDIRECT_URI + "?next=https://evil.example/",
    "empty query": REDIRECT_URI + "?",
    "fragment": REDIRECT_URI + "#x",
    "userinfo": "https://user@app.example/callback",
    "userinfo with password": "https://user:pw@app.example/callback",
    "registered host as userinfo": "https://app.example@evil.example/callback",
    "encoded slash as userinfo": "https://app.example%2Fcallback@evil.example/",
    "subdomain of the attacker": "https://app.example.evil.example/callback",
    "trailing dot": "https://app.example./callback",
    "dot segment": "https://app.example/x/../callback",
    "percent-encoded path": "https://app.example/%63allback",
    "leading space": " " + REDIRECT_URI,
    "backslash": "https://app.example\\@evil.example/callback",
    "another site": "https://evil.example/callback",
}


@pytest.mark.parametrize("uri", list(NEAR_MISSES.values()), ids=list(NEAR_MISSES))
def test_oidcc_ensure_registered_redirect_uri(world: World, uri: str) -> None:
    """oidcc-ensure-registered-redirect-uri: a redirect_uri not registered exactly is never redirected to."""
    client_id = world.confidential.client_id  # exactly one registered: https://app.example/callback
    params = world.authorize_params(client_id, redirect_uri=uri)
    attempts = [authorize(world, params)]  # before login
    world.login()
    consent = authorize(world, world.authorize_params(client_id))
    attempts += [
        authorize(world, params),
        authorize(world, params, "POST"),
        authorize(world, {**params, "response_type": "token", "scope": "bogus"}),  # errors that would redirect
        press(world, consent, "allow", redirect_uri=uri),  # a tampered consent form
    ]
    for response in attempts:
        never_redirected(response, "invalid_request", "not registered", uri)
    as_json = authorize(world, world.authorize_params(client_id, redirect_uri=uri), accept="application/json")
    assert as_json.status_code == 400 and "location" not in as_json.headers
    assert as_json.json()["error"] == "invalid_request"
    assert sql.count(world.database, "authorization_codes") == 0


@pytest.mark.parametrize("kind", ["public", "confidential"])  # two registered redirect URIs, and one
def test_oidcc_ensure_redirect_uri_in_authorization_request(world: World, kind: str) -> None:
    """oidcc-ensure-redirect-uri-in-authorization-request: CONTRACT §3 requires redirect_uri in every request."""
    client_id = client_of(world, kind).client_id
    world.login()
    for missing in (None, ""):  # RFC 6749 §3.1: an empty parameter counts as omitted
        params = world.authorize_params(client_id, redirect_uri=missing)
        if missing is not None:
            params["redirect_uri"] = missing
        for method in ("GET", "POST"):
            never_redirected(authorize(world, params, method), "invalid_request", "redirect_uri is required")
        as_json = authorize(world, params, accept="application/json")
        assert as_json.status_code == 400 and as_json.json() == {
            "error": "invalid_request",
            "error_description": "redirect_uri is required",
        }
    assert sql.count(world.database, "authorization_codes") == 0


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_token_request_repeats_the_redirect_uri(signed_in: World, kind: str) -> None:
    """The token half (RFC 6749 §4.1.3, CONTRACT §3): the same redirect_uri again, or no tokens."""
    world, client = signed_in, client_of(signed_in, kind)
    code, verifier = world.code(client.client_id)
    description = refused(
        post_token(world, code_request(world, code, verifier, client, redirect_uri=None)), "invalid_request"
    )
    assert "redirect_uri" in description
    others = [REDIRECT_URI + "/", REDIRECT_URI.upper(), "https://evil.example/callback"]
    if kind == "public":
        others += [LOOPBACK, "http://127.0.0.1:8080/cb"]  # registered for the client, but not this code's
    for other in others:
        description = refused(
            post_token(world, code_request(world, code, verifier, client, redirect_uri=other)), "invalid_grant"
        )
        assert "redirect_uri" in description
    assert tokens_issued(world) == 0
    granted(post_token(world, code_request(world, code, verifier, client)))  # the refusals did not use the code up


# 7: long state


ODD = "a b+c&d=e/f?g#h%20;:@!$'\"()*,<>[]{}|\\^`~é e\u0301 日本語 🔑 \u200b\ufeff"
LONG_STATES = {
    "2048 ascii": "L" * 2048,
    "2048 base64url": (base64.urlsafe_b64encode(bytes(range(256)) * 6).decode())[:2048],
    "odd characters": (ODD * 60)[:2500],
    "3800 mixed": ("S" * 30 + "日本🔑é&=+%") * 100,
    "2100 CJK": "日本語" * 700,
}


@pytest.mark.parametrize("state", list(LONG_STATES.values()), ids=list(LONG_STATES))
def test_fapi_ensure_authorization_request_with_long_state(world: World, state: str) -> None:
    """A long state comes back byte for byte: after the login detour, on allow, on deny and on an error."""
    assert len(state) >= 2000
    params = world.authorize_params(world.public.client_id, state=state)
    to_login = authorize(world, params)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login?next=")
    login_page = world.http.get(to_login.headers["location"])
    assert login_page.status_code == 200
    form = {
        "username": "alice",
        "password": "correct horse battery",
        "csrf_token": csrf_of(login_page.text),
        "next": hidden_fields(login_page.text)["next"],
    }
    signed = world.http.post("/login", data=form, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    consent = world.http.get(signed.headers["location"], follow_redirects=False)
    allowed = press(world, consent)
    assert redirect_query(allowed)["state"] == state
    raw = re.search(r"[?&]state=([^&]*)", allowed.headers["location"])
    assert raw and unquote_plus(raw.group(1)).encode() == state.encode()  # no normalisation, no truncation
    code = redirect_query(allowed)["code"]
    assert granted(
        post_token(world, code_request(world, code, world.verifiers[params["code_challenge"]], world.public))
    )
    again = world.authorize_params(world.public.client_id, state=state)
    assert redirect_query(press(world, authorize(world, again), "deny"))["state"] == state
    failed = redirect_query(authorize(world, {**again, "scope": "bogus"}))
    assert failed["error"] == "invalid_scope" and failed["state"] == state


# 8: scope order


def test_oidcc_ensure_other_scope_order_succeeds(signed_in: World) -> None:
    """Either order of the same scopes gives the same grant, and the token response says which."""
    world = signed_in
    results = []
    for scope in ("write:notes read:account", "read:account write:notes"):
        params = world.authorize_params(world.public.client_id, scope=scope)
        page = authorize(world, params)
        listed = re.findall(r'data-scope="([^"]+)"', page.text)
        tokens = granted(
            post_token(
                world,
                code_request(
                    world,
                    redirect_query(press(world, page))["code"],
                    world.verifiers[params["code_challenge"]],
                    world.public,
                ),
            )
        )
        assert isinstance(tokens["scope"], str)
        access = tokens["access_token"]
        assert api_i(world, access).status_code == 200
        created = world.http.post(
            "/api/notes/create", headers={"Authorization": f"Bearer {access}"}, json={"text": "scope order"}
        )
        assert created.status_code == 200, created.text
        results.append(
            (set(listed), set(tokens["scope"].split()), set(str(introspect(world, access)["scope"]).split()))
        )
    assert results[0] == results[1] == ({"read:account", "write:notes"},) * 3


# 9: unknown parameters


UNKNOWN_AT_AUTHORIZE = {
    "foo": "bar",
    "extra_param": "random value 日本",
    "nonce": "n-0S6_WzA2Mj",
    "prompt": "none",
    "display": "page",
    "max_age": "0",
    "login_hint": "bob",
    "ui_locales": "ja",
    "acr_values": "urn:mace:incommon:iap:silver",
    "id_token_hint": "eyJhbGciOiJub25lIn0.e30.",
    "claims": '{"userinfo": {"email": null}}',
    "access_type": "offline",
}
UNKNOWN_AT_TOKEN = {
    "foo": "bar",
    "scope": "tweet.write",  # not a parameter of the code exchange (RFC 6749 §4.1.3): ignored, never widening
    "state": "xyz",
    "nonce": "n-0S6_WzA2Mj",
    "response_type": "code",
    "audience": "https://evil.example/",
}


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(signed_in: World) -> None:
    """RFC 6749 §3.1: unrecognized parameters are ignored; here that includes OIDC's (prompt, nonce, …)."""
    world = signed_in
    params = world.authorize_params(world.public.client_id)
    plain = authorize(world, params)
    for method in ("GET", "POST"):
        page = authorize(world, {**params, **UNKNOWN_AT_AUTHORIZE}, method)
        assert page.status_code == 200, page.text
        assert hidden_fields(page.text) == hidden_fields(plain.text)  # nothing unknown travels on
    repeated = [*params.items(), ("foo", "1"), ("foo", "2"), ("nonce", "a\tb")]  # ignored, even sent twice
    assert world.http.get("/oauth/authorize", params=repeated, follow_redirects=False).status_code == 200
    query = redirect_query(press(world, page))
    assert set(query) == {"code", "state", "iss"} and query["state"] == params["state"]
    verifier = world.verifiers[params["code_challenge"]]
    tokens = granted(
        post_token(world, {**code_request(world, query["code"], verifier, world.public), **UNKNOWN_AT_TOKEN})
    )
    assert tokens["scope"] == "read:account write:notes"
    assert set(tokens) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    as_json = world.http.post(
        "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": world.public.client_id,
            **{name: value for name, value in UNKNOWN_AT_TOKEN.items() if name != "scope"},
            "expires_in": 3600,  # unknown members are ignored whatever their JSON type
            "extra": {"nested": [1, True]},
        },
    )
    assert granted(as_json)["scope"] == "read:account write:notes"


# 10: the user says no


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_fapi_user_rejects_authentication(signed_in: World, kind: str) -> None:
    """Deny: a redirect with exactly error=access_denied, error_description, state and iss; nothing issued."""
    world = signed_in
    params = world.authorize_params(client_of(world, kind).client_id)
    query = redirect_query(press(world, authorize(world, params), "deny"))
    assert set(query) == {"error", "error_description", "state", "iss"}
    assert query["error"] == "access_denied" and query["error_description"]
    assert query["state"] == params["state"] and query["iss"] == ISSUER
    for table in ("authorization_codes", "grants", "access_tokens"):
        assert sql.count(world.database, table) == 0, table


# 11: POST


def test_oidcc_ensure_post_request_succeeds(world: World) -> None:
    """RFC 6749 §3.1 MAY, CONTRACT §2 GET/POST: a form-POSTed authorization request is served like GET.

    POST /oauth/authorize is also where the consent form goes; the two are told apart by `decision`, and a
    decision needs the consent page's CSRF token, so a posted request can never approve itself.
    """
    params = world.authorize_params(world.public.client_id)
    # Not signed in: to the login page, carrying the request (as a GET URL) in `next`.
    to_login = authorize(world, params, "POST")
    assert to_login.status_code == 303
    target = parse_qs(urlsplit(to_login.headers["location"]).query)["next"][0]
    assert target.startswith("/oauth/authorize?")
    assert {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()} == params
    world.login()
    by_get, by_post = authorize(world, params), authorize(world, params, "POST")
    assert by_post.status_code == 200 and hidden_fields(by_post.text) == hidden_fields(by_get.text)
    forged = authorize(world, {**params, "decision": "allow"}, "POST")  # no CSRF token: refused, not redirected
    never_redirected(forged, "invalid_request", "did not come from this site")
    assert sql.count(world.database, "authorization_codes") == 0
    query = redirect_query(press(world, by_post))
    assert set(query) == {"code", "state", "iss"} and query["state"] == params["state"] and query["iss"] == ISSUER
    granted(
        post_token(world, code_request(world, query["code"], world.verifiers[params["code_challenge"]], world.public))
    )
    # Errors behave as for GET too: a bad response_type is redirected, an unknown client is not.
    bad = redirect_query(authorize(world, {**params, "response_type": "token"}, "POST"))
    assert bad["error"] == "unsupported_response_type" and bad["state"] == params["state"]
    never_redirected(
        authorize(world, {**params, "client_id": "no-such-client"}, "POST"), "invalid_client", "unknown client_id"
    )


# 12: refresh tokens bound to their client


def test_oidcc_refresh_token(signed_in: World) -> None:
    """A refresh token presented by another client: invalid_grant, and the family is not revoked.

    Like a code (above): the owner did nothing wrong, so its grant lives on. A stale (rotated) refresh token
    presented by another client is refused the same way, without the owner-side reuse revocation.
    """
    world = signed_in
    for owner, other in ((world.public, world.confidential), (world.confidential, world.public)):
        first = world.exchange(*world.code(owner.client_id, scope=SCOPE), owner)
        description = refused(refresh(world, first["refresh_token"], other), "invalid_grant")
        assert "another client" in description
        assert_alive(world, first)
        second = granted(refresh(world, first["refresh_token"], owner))  # still the owner's to use
        assert set(second) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
        assert second["scope"] == SCOPE and second["refresh_token"] != first["refresh_token"]
        refused(refresh(world, first["refresh_token"], other), "invalid_grant")  # stale, and not theirs
        assert_alive(world, second)


# 13: the scheme name's case


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_fapi_access_token_type_header_case_sensitivity(signed_in: World, scheme: str) -> None:
    """RFC 7235 §2.1: auth-scheme is case-insensitive, at both demo dialects (and `Basic` at introspection)."""
    world = signed_in
    tokens = world.exchange(*world.code(scope=SCOPE))
    me = api_i(world, tokens["access_token"], scheme)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    x_me = users_me(world, tokens["access_token"], scheme)
    assert x_me.status_code == 200 and x_me.json()["data"]["username"] == "alice"
    basic = {"Bearer": "Basic", "bearer": "basic", "BEARER": "BASIC", "BeArEr": "BaSiC"}[scheme]
    assert introspect(world, tokens["access_token"], basic)["active"] is True
    revoked = world.http.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": world.public.client_id}
    )
    assert revoked.status_code == 200
    for response in (api_i(world, tokens["access_token"], scheme), users_me(world, tokens["access_token"], scheme)):
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
