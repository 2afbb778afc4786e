"""The site around the pages (issue 24): 404/405 as HTML for a browser and JSON for an API caller, the favicon, the
header's navigation, the login page naming the app, the revoke confirmation, and paging on /@NAME."""

from __future__ import annotations

import re

import pytest

from tests.conftest import World, csrf_of

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/page", 404, "not_found"),
        ("GET", "/static/missing.css", 404, "not_found"),
        ("GET", "/oauth/token", 405, "invalid_request"),
        ("PUT", "/login", 405, "invalid_request"),
    ],
)
def test_a_browser_gets_an_error_page_and_an_api_caller_json(
    world: World, method: str, path: str, status: int, code: str
) -> None:
    page = world.http.request(method, path, headers=BROWSER)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert f'<strong id="error-code">{code}</strong>' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    if status == 405:
        assert page.headers["allow"]
    for accept in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}, {"Accept": "application/json, text/html"}):
        answer = world.http.request(method, path, headers=accept)
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"] == code


def test_the_favicon_answers_with_the_brand_mark(world: World) -> None:
    icon = world.http.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg") and "public" in icon.headers["cache-control"]


def test_the_header_offers_sign_in_then_the_users_apps_page_and_sign_out(world: World) -> None:
    home = world.http.get("/")
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home.text, re.S)
    assert nav and 'href="/login"' in nav.group(1) and 'href="/settings/apps"' in nav.group(1)
    assert 'aria-current="page">Home' in nav.group(1)
    world.login()
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', world.http.get("/settings/apps").text, re.S)
    assert nav and 'href="/@alice"' in nav.group(1) and 'action="/logout"' in nav.group(1)
    assert 'href="/login"' not in nav.group(1)
    assert 'href="/settings/apps" aria-current="page"' in nav.group(1)
    # An error page knows who is signed in too.
    missing = world.http.get("/nowhere", headers=BROWSER)
    assert 'action="/logout"' in missing.text and csrf_of(missing.text)


def test_the_login_page_names_the_app_that_sent_the_user(world: World) -> None:
    params = world.authorize_params(world.confidential.client_id)
    sent = world.http.get("/oauth/authorize", params=params, follow_redirects=True)
    assert '<strong id="login-app">Confidential App</strong>' in sent.text
    miauth = world.http.get("/login", params={"next": "/miauth/0123456789abcdef?name=Note+Bot"})
    assert '<strong id="login-app">Note Bot</strong>' in miauth.text
    url_client = world.http.get("/login", params={"next": "/oauth/authorize?client_id=https://bot.example/app"})
    assert '<strong id="login-app">bot.example</strong>' in url_client.text
    for target in ("/", "/oauth/authorize?client_id=nobody", "/oauth/authorize", "//evil.example/"):
        assert 'id="login-app"' not in world.http.get("/login", params={"next": target}).text


def test_revoking_asks_first_and_says_what_it_does(world: World) -> None:
    world.login()
    world.tokens()
    page = world.http.get("/settings/apps").text
    confirm = re.search(r'<details class="confirm">(.*?)</details>', page, re.S)
    assert confirm, page
    assert "<summary" in confirm.group(1) and "every token it holds stops working" in confirm.group(1)
    assert re.search(r'<button type="submit" class="danger revoke">Revoke access for [^<]+</button>', confirm.group(1))


def test_the_user_page_pages_its_notes_newest_first(world: World) -> None:
    world.login()
    bearer = {"Authorization": f"Bearer {world.tokens()['access_token']}"}
    for number in range(25):
        created = world.http.post("/api/notes/create", headers=bearer, json={"text": f"note number {number}"})
        assert created.status_code == 200
        world.clock.advance(1)
    first = world.http.get("/@alice")
    assert '<p class="display-name">alice</p>' in first.text and '<h1 id="profile-name">@alice</h1>' in first.text
    assert re.search(r'<p class="muted" id="note-count">25 notes</p>', first.text)
    shown = re.findall(r"note number (\d+)", first.text)
    assert shown == [str(n) for n in range(24, 4, -1)]  # 20, newest first
    assert 'href="?page=2" rel="next"' in first.text and 'rel="prev"' not in first.text
    second = world.http.get("/@alice", params={"page": "2"})
    assert re.findall(r"note number (\d+)", second.text) == ["4", "3", "2", "1", "0"]
    assert 'href="?page=1" rel="prev"' in second.text and 'rel="next"' not in second.text
    assert "No more notes." in world.http.get("/@alice", params={"page": "3"}).text
    for bad in ("0", "-1", "x", "99999", "1.5"):
        refused = world.http.get("/@alice", params={"page": bad})
        assert refused.status_code == 400 and "text/html" in refused.headers["content-type"], bad
