"""MiAuth, Misskey's page-less flow (PROVIDERS.md, issue 3): GET/POST /miauth/{session} and its check.

The user decides on a session the app made up (a UUID); the app then redeems the session exactly once for a token.
"""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from httpx2 import Response

from tests.conftest import PASSWORD, World, csrf_of, hidden_fields
from tests.sql import rows

CALLBACK = "https://app.example/miauth/done?from=sekisho"
PERMISSION = "write:notes,read:account"
PERMISSION_WORDS = {
    "write:notes": "Post and delete notes as you",
    "read:account": "Read your account information",
}
DECISION_TTL = 10 * 60
DAY = 24 * 3600


@pytest.fixture
def session() -> str:
    return str(uuid.uuid4())


def params(**overrides: str | None) -> dict[str, str]:
    found: dict[str, str | None] = {"name": "Note Bot", "callback": CALLBACK, "permission": PERMISSION, **overrides}
    return {name: value for name, value in found.items() if value is not None}


def consent_page(world: World, session: str, query: dict[str, str]) -> Response:
    page = world.http.get(f"/miauth/{session}", params=query)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    return page


def decide(world: World, session: str, query: dict[str, str], decision: str) -> Response:
    """Show the consent page and press a button, as the browser would (the form's hidden fields included)."""
    form = hidden_fields(consent_page(world, session, query).text)
    assert form["csrf_token"]
    form["decision"] = decision
    return world.http.post(f"/miauth/{session}", data=form, follow_redirects=False)


def check(world: World, session: str) -> dict[str, object]:
    response = world.http.post(f"/api/miauth/{session}/check")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


def error_page(response: Response, status: int, error: str) -> str:
    """The HTML error page: its status, its error code, and its description (unescaped)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    code = re.search(r'<strong id="error-code">([^<]*)</strong>', response.text)
    assert code is not None and code.group(1) == error, response.text
    description = re.search(r'<p id="error-description">([^<]*)</p>', response.text)
    assert description is not None and description.group(1).strip()
    return html.unescape(description.group(1))


def stored(world: World) -> list[tuple[str, int]]:
    """The MiAuth decisions in the database, read past sekisho: (session, allowed)."""
    return [(str(row[0]), int(row[1])) for row in rows(world.database, "SELECT session, allowed FROM miauth_sessions")]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_note(world: World, token: str, text: str) -> Response:
    return world.http.post("/api/notes/create", headers=bearer(token), json={"text": text})


def redeemed_token(world: World, session: str) -> str:
    body = check(world, session)
    assert body["ok"] is True, body
    token = body["token"]
    assert isinstance(token, str)
    return token


# the flow


def test_not_signed_in_goes_to_login_and_comes_back_to_the_consent_page(world: World, session: str) -> None:
    query = params()
    first = world.http.get(f"/miauth/{session}", params=query, follow_redirects=False)
    assert first.status_code == 303
    location = urlsplit(first.headers["location"])
    assert location.path == "/login" and not location.netloc
    target = parse_qs(location.query)["next"][0]
    assert urlsplit(target).path == f"/miauth/{session}"
    assert {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()} == query
    assert stored(world) == []

    login = world.http.get(first.headers["location"])
    assert login.status_code == 200
    form = hidden_fields(login.text)
    assert form["next"] == target
    signed_in = world.http.post(
        "/login",
        data={**form, "username": "alice", "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == target

    page = world.http.get(target)
    assert page.status_code == 200, page.text
    text = page.text
    assert '<span id="app-name">Note Bot</span>' in text
    assert "<title>Allow Note Bot? · sekisho</title>" in text
    listed = re.findall(r'<li data-scope="([^"]+)">([^<]*)<code>', text)
    assert [(scope, words.strip()) for scope, words in listed] == list(PERMISSION_WORDS.items())
    assert f'action="/miauth/{session}"' in text
    assert '<span class="host" id="client-host">app.example</span>' in text
    assert "<strong>alice</strong>" in text
    assert '<button class="primary" type="submit" name="decision" value="allow">' in text
    assert '<button type="submit" name="decision" value="deny">' in text
    assert stored(world) == []  # showing the page decides nothing


def test_allow_redirects_to_the_callback_and_check_gives_the_token_exactly_once(world: World, session: str) -> None:
    world.login()
    response = decide(world, session, params(), "allow")
    assert response.status_code == 303, response.text
    # The callback's own query is kept; `session` is added after it.
    assert response.headers["location"] == f"{CALLBACK}&session={session}"
    assert response.headers["cache-control"] == "no-store"
    assert stored(world) == [(session, 1)]

    body = check(world, session)
    assert set(body) == {"ok", "token", "user"}
    assert body["ok"] is True
    token = body["token"]
    assert isinstance(token, str) and re.fullmatch(r"sek_at_[A-Za-z0-9_-]{20,}", token), token
    user = body["user"]
    assert isinstance(user, dict)
    assert user["username"] == "alice" and user["host"] is None and user["id"]

    # Redeemed once: never again, whoever asks.
    assert check(world, session) == {"ok": False}
    assert check(world, session) == {"ok": False}

    # The token is a working Misskey token: Bearer header, and Misskey's `i` body field.
    created = post_note(world, token, "hello from MiAuth")
    assert created.status_code == 200, created.text
    note = created.json()["createdNote"]
    assert note["text"] == "hello from MiAuth" and note["user"]["username"] == "alice"
    by_i = world.http.post("/api/notes/create", json={"i": token, "text": "posted with i"})
    assert by_i.status_code == 200, by_i.text
    assert by_i.json()["createdNote"]["text"] == "posted with i"
    me = world.http.post("/api/i", json={"i": token})
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_the_token_has_only_the_permissions_asked_for(world: World, session: str) -> None:
    world.login()
    assert decide(world, session, params(permission="write:notes"), "allow").status_code == 303
    token = redeemed_token(world, session)
    assert post_note(world, token, "allowed").status_code == 200
    refused = world.http.post("/api/i", headers=bearer(token))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_check_before_any_decision_is_not_ok_and_does_not_spoil_the_session(world: World, session: str) -> None:
    assert check(world, session) == {"ok": False}
    world.login()
    consent_page(world, session, params())
    assert check(world, session) == {"ok": False}
    assert decide(world, session, params(), "allow").status_code == 303
    assert redeemed_token(world, session).startswith("sek_at_")
    assert check(world, session) == {"ok": False}


def test_deny_says_access_denied_and_check_is_never_ok(world: World, session: str) -> None:
    world.login()
    response = decide(world, session, params(), "deny")
    assert response.status_code == 200, response.text
    assert "location" not in response.headers  # no trip to the callback, so no session= for the app to chase
    assert '<h1 id="miauth-result">Access denied</h1>' in response.text
    assert "The app gets no access." in response.text
    assert stored(world) == [(session, 0)]
    assert check(world, session) == {"ok": False}
    assert check(world, session) == {"ok": False}


def test_allow_without_a_callback_says_the_page_can_be_closed(world: World, session: str) -> None:
    world.login()
    page = consent_page(world, session, params(callback=None))
    assert "This app has no web page" in page.text
    assert 'name="callback"' not in page.text
    response = decide(world, session, params(callback=None), "allow")
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert '<h1 id="miauth-result">Access allowed</h1>' in response.text
    assert "You can close this page and go back to the app." in response.text
    assert redeemed_token(world, session).startswith("sek_at_")


def test_a_callback_without_a_query_gets_one(world: World, session: str) -> None:
    world.login()
    response = decide(world, session, params(callback="https://app.example/cb"), "allow")
    assert response.status_code == 303
    assert response.headers["location"] == f"https://app.example/cb?session={session}"


def test_an_app_specific_callback_scheme_is_allowed(world: World, session: str) -> None:
    world.login()
    response = decide(world, session, params(callback="notebot://miauth"), "allow")
    assert response.status_code == 303
    assert response.headers["location"] == f"notebot://miauth?session={session}"


# deciding twice


@pytest.mark.parametrize(("first", "second"), [("allow", "allow"), ("allow", "deny"), ("deny", "allow")])
def test_deciding_the_same_session_twice_is_a_400_page(world: World, session: str, first: str, second: str) -> None:
    world.login()
    assert decide(world, session, params(), first).status_code in (200, 303)
    again = decide(world, session, params(), second)
    description = error_page(again, 400, "invalid_request")
    assert "already decided" in description
    # The first decision holds.
    assert stored(world) == [(session, 1 if first == "allow" else 0)]
    assert check(world, session)["ok"] is (first == "allow")
    assert check(world, session) == {"ok": False}


def test_another_user_cannot_take_over_a_decided_session(world: World, session: str) -> None:
    world.login()
    assert decide(world, session, params(), "allow").status_code == 303
    world.http.cookies.clear()
    world.login("bob")
    error_page(decide(world, session, params(), "allow"), 400, "invalid_request")
    user = check(world, session)["user"]
    assert isinstance(user, dict) and user["username"] == "alice"


# session ids


@pytest.mark.parametrize(
    "bad",
    [
        "short",  # under 16 characters
        "1234567",
        "a" * 129,  # over 128
        "abcdefgh<script>",
        "<script>alert(1)</script>",  # `<` and `/`
        "abcdefgh/ijklmnop",
        "abcdefgh%2Fijklmnop",  # an encoded slash
        "abcdefgh.ijk",
        "abcdefgh ijk",
        "%00abcdefghij",
        "abcdefgh%0Aijklmnop",  # an encoded line break (found by tests/e2e/test_openapi_fuzz.py): 400, not a 404
        "%0D%0Aabcdefghij",
    ],
)
def test_malformed_session_ids_are_refused(world: World, bad: str) -> None:
    world.login()
    page = world.http.get(f"/miauth/{bad}", params=params())
    description = error_page(page, 400, "invalid_request")
    assert "session id" in description
    assert "<script>" not in page.text
    form = {"csrf_token": csrf_of(consent_page(world, str(uuid.uuid4()), params()).text), "decision": "allow"}
    posted = world.http.post(f"/miauth/{bad}", data={**params(), **form}, follow_redirects=False)
    error_page(posted, 400, "invalid_request")
    assert stored(world) == []
    assert check(world, bad) == {"ok": False}


@pytest.mark.parametrize("session", [str(uuid.uuid4()), "a" * 128, "abcdefgh", "0123456789abcdef_-"])
def test_check_on_a_session_nobody_decided_is_not_ok(world: World, session: str) -> None:
    assert check(world, session) == {"ok": False}


# callbacks


BAD_CALLBACKS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "JAVASCRIPT://app.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file:///etc/passwd",
    "FiLe://localhost/etc/passwd",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "about:blank",
    "blob:https://app.example/1",
    "https://app.example/cb#fragment",
    "http://app.example/cb",  # plain http to a non-loopback host
    "/relative/callback",
]


def refused_callback(world: World, session: str, callback: str) -> tuple[Response, str]:
    """The consent page and a forged POST (valid CSRF token) both refuse `callback`; (the page, its description)."""
    world.login()
    page = world.http.get(f"/miauth/{session}", params=params(callback=callback), follow_redirects=False)
    description = error_page(page, 400, "invalid_request")
    token = csrf_of(consent_page(world, str(uuid.uuid4()), params()).text)
    form = {**params(callback=callback), "csrf_token": token, "decision": "allow"}
    posted = world.http.post(f"/miauth/{session}", data=form, follow_redirects=False)
    error_page(posted, 400, "invalid_request")
    assert stored(world) == []
    assert check(world, session) == {"ok": False}
    return page, description


@pytest.mark.parametrize("callback", BAD_CALLBACKS)
def test_a_dangerous_callback_is_a_400_page_and_nothing_is_stored(world: World, session: str, callback: str) -> None:
    page, description = refused_callback(world, session, callback)
    assert "callback" in description
    assert "<script>" not in page.text


USERINFO_CALLBACKS = [
    "https://good@evil.example/",
    "https://good%40x@evil.example/",
    "https://app.example@evil.example/miauth/done",
    "https://app.example:443@evil.example/",
    "https://evil.example\\@app.example/",
    "myapp://good@evil.example/cb",
]


@pytest.mark.parametrize("callback", USERINFO_CALLBACKS)
def test_a_callback_with_userinfo_is_refused_and_never_shown(world: World, session: str, callback: str) -> None:
    """Issue 21 finding 6: "https://good@evil.example/" would read "This app is at good@evil.example"."""
    page, description = refused_callback(world, session, callback)
    assert description.startswith("callback: redirect URI ")
    assert "userinfo" in description or "backslash" in description
    assert 'id="client-host"' not in page.text


@pytest.mark.parametrize("short", ["abcdefgh", "0123456789abcde", "a-b_c-d_e-f_g-h"])
def test_a_session_id_under_16_characters_is_refused(world: World, short: str) -> None:
    """Issue 21 finding 6: a short session id could be guessed and redeemed by someone else (Misskey's are UUIDs)."""
    world.login()
    description = error_page(world.http.get(f"/miauth/{short}", params=params()), 400, "invalid_request")
    assert description == "the MiAuth session id must be 16-128 letters, digits, - or _ (a UUID is usual)"
    token = csrf_of(consent_page(world, str(uuid.uuid4()), params()).text)
    form = {**params(), "csrf_token": token, "decision": "allow"}
    error_page(world.http.post(f"/miauth/{short}", data=form, follow_redirects=False), 400, "invalid_request")
    assert stored(world) == []
    assert check(world, short) == {"ok": False}
    assert consent_page(world, short + "x" * (16 - len(short)), params()).status_code == 200


def test_a_bad_callback_is_refused_before_login(world: World, session: str) -> None:
    response = world.http.get(
        f"/miauth/{session}", params=params(callback="javascript:alert(1)"), follow_redirects=False
    )
    error_page(response, 400, "invalid_request")


# permissions and names


@pytest.mark.parametrize("permission", ["write:nothing", "foo,bar", "write:notes:extra", ",,,", "<script>"])
def test_only_unknown_permissions_is_a_400_invalid_scope_page(world: World, session: str, permission: str) -> None:
    world.login()
    page = world.http.get(f"/miauth/{session}", params=params(permission=permission), follow_redirects=False)
    error_page(page, 400, "invalid_scope")
    assert "<script>" not in page.text
    assert stored(world) == []


def test_unknown_permissions_are_dropped_and_known_ones_kept(world: World, session: str) -> None:
    world.login()
    page = consent_page(world, session, params(permission="write:nothing,read:account,read:account,bogus"))
    assert re.findall(r'<li data-scope="([^"]+)">', page.text) == ["read:account"]


def test_an_app_name_with_markup_is_shown_escaped(world: World, session: str) -> None:
    world.login()
    name = '<script>alert(1)</script>"Evil" & <b>bold</b>'
    page = consent_page(world, session, params(name=name))
    assert "<script>alert(1)" not in page.text and "<b>bold</b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    shown = re.search(r'id="app-name">([^<]*)</span>', page.text)
    assert shown is not None and html.unescape(shown.group(1)) == name
    assert hidden_fields(page.text)["name"] == name  # kept intact for the POST, escaped in the attribute
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_missing_name_gets_a_placeholder(world: World, session: str) -> None:
    world.login()
    page = consent_page(world, session, params(name=None))
    assert '<span id="app-name">An app without a name</span>' in page.text


# CSRF


@pytest.mark.parametrize("csrf", [None, "", "wrong", "x" * 200])
def test_a_decision_without_the_right_csrf_token_is_refused(world: World, session: str, csrf: str | None) -> None:
    world.login()
    form = hidden_fields(consent_page(world, session, params()).text)
    form["decision"] = "allow"
    if csrf is None:
        del form["csrf_token"]
    else:
        form["csrf_token"] = csrf
    response = world.http.post(f"/miauth/{session}", data=form, follow_redirects=False)
    error_page(response, 400, "invalid_request")
    assert stored(world) == []
    assert check(world, session) == {"ok": False}
    # The session is not burnt: the real form still works.
    assert decide(world, session, params(), "allow").status_code == 303
    assert check(world, session)["ok"] is True


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_a_decision_by_get_with_a_valid_csrf_token_decides_nothing(
    world: World, session: str, method: str, decision: str
) -> None:
    """Issue 21 finding 5: a link or an <img> carrying the page's own CSRF token cannot allow or deny a session."""
    world.login()
    form = {**hidden_fields(consent_page(world, session, params()).text), "decision": decision}
    response = world.http.request(method, f"/miauth/{session}", params=form, follow_redirects=False)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    if method == "GET":
        assert "accepted only from the consent form (POST)" in error_page(response, 400, "invalid_request")
    assert stored(world) == []
    assert check(world, session) == {"ok": False}
    # Refused, the session is not burnt: the real form still decides it.
    assert decide(world, session, params(), decision).status_code == (303 if decision == "allow" else 200)


def test_a_csrf_token_from_another_browser_is_refused(world: World, session: str) -> None:
    world.login("bob")
    foreign = csrf_of(consent_page(world, session, params()).text)
    world.http.cookies.clear()
    world.login()
    form = {**params(), "csrf_token": foreign, "decision": "allow"}
    error_page(world.http.post(f"/miauth/{session}", data=form, follow_redirects=False), 400, "invalid_request")
    assert stored(world) == []


def test_a_post_decision_when_signed_out_decides_nothing(world: World, session: str) -> None:
    form = {**params(), "csrf_token": "anything", "decision": "allow"}
    response = world.http.post(f"/miauth/{session}", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"
    assert stored(world) == []


# time


def test_an_allowed_session_must_be_checked_within_ten_minutes(world: World, session: str) -> None:
    world.login()
    assert decide(world, session, params(), "allow").status_code == 303
    world.clock.advance(DECISION_TTL + 1)
    assert check(world, session) == {"ok": False}
    assert check(world, session) == {"ok": False}


def test_a_check_just_inside_ten_minutes_works(world: World, session: str) -> None:
    world.login()
    assert decide(world, session, params(), "allow").status_code == 303
    world.clock.advance(DECISION_TTL - 1)
    assert redeemed_token(world, session).startswith("sek_at_")


def test_a_miauth_token_does_not_expire_like_a_misskey_token(world: World, session: str) -> None:
    world.login()
    assert decide(world, session, params(), "allow").status_code == 303
    token = redeemed_token(world, session)
    world.clock.advance(30 * DAY)
    response = post_note(world, token, "a month later")
    assert response.status_code == 200, response.text
    world.clock.advance(335 * DAY)
    assert post_note(world, token, "a year later").status_code == 200
    me = world.http.post("/api/i", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_sessions_are_independent(world: World) -> None:
    world.login()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert decide(world, first, params(), "allow").status_code == 303
    assert decide(world, second, params(), "deny").status_code == 200
    assert check(world, second) == {"ok": False}
    one = redeemed_token(world, first)
    assert sorted(stored(world)) == sorted([(first, 1), (second, 0)])
    assert post_note(world, one, "first").status_code == 200


def test_session_in_the_path_is_what_counts(world: World, session: str) -> None:
    """A `session` in the query or form cannot point the decision at another session."""
    world.login()
    other = str(uuid.uuid4())
    form = hidden_fields(consent_page(world, session, params()).text)
    form.update(decision="allow", session=other)
    response = world.http.post(f"/miauth/{quote(session)}", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{CALLBACK}&session={session}"
    assert check(world, other) == {"ok": False}
    assert check(world, session)["ok"] is True


def test_an_icon_is_never_hot_linked(world: World) -> None:
    """The icon would have to be fetched safely; a private address is refused, so no image at all."""
    world.login()
    session = "0b6f9d36-5e1a-4c4e-9d0a-5a3f0c1e2d7b"
    page = world.http.get(
        f"/miauth/{session}",
        params={"name": "Bot", "icon": "http://169.254.169.254/logo.png", "permission": "write:notes"},
    )
    assert page.status_code == 200
    assert "<img" not in page.text and 'src="http' not in page.text
