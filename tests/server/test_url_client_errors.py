"""Issue 21 finding 4: a URL client's errors before the user's decision are shown here, with a link back.

Anyone can publish a client page naming any redirect URI, so the server redirects automatically only to clients
someone vetted (RFC 9700 §4.11.2); a URL client gets the error page, whose plain link goes back with the error, `state`
and `iss`. After the user decides, the answer is redirected as for any client.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx2 import Response

from tests.client_pages import ClientPages
from tests.conftest import ISSUER, World, hidden_fields
from tests.server.test_url_clients import url_world

# What each problem looks like: the override of the request, and the error it gives.
PROBLEMS: list[tuple[dict[str, str | None], str]] = [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "bogus"}, "invalid_scope"),
]


@pytest.fixture
def world(database: str) -> Iterator[World]:
    with url_world(database) as running:
        yield running


@pytest.fixture
def pages() -> Iterator[ClientPages]:
    with ClientPages() as running:
        yield running


def url_client(pages: ClientPages, callback: str) -> str:
    """A client page anyone could publish, naming `callback` (here a phishing page) as its redirect URI."""
    pages.html("/app/", links=[callback])
    return pages.url("/app/")


def ask(world: World, client_id: str, callback: str, **overrides: str | None) -> tuple[dict[str, str], Response]:
    params = world.authorize_params(client_id, redirect_uri=callback, **overrides)
    return params, world.http.get("/oauth/authorize", params=params, follow_redirects=False)


def back_link(response: Response) -> tuple[str, dict[str, list[str]]]:
    """The error page's link back to the app: (the URI without its query, the query)."""
    found = re.search(r'<a id="back-link" href="([^"]*)"', response.text)
    assert found, response.text
    href = html.unescape(found.group(1))
    base, _, query = href.partition("?")
    return base, parse_qs(query, keep_blank_values=True)


def shown_not_redirected(response: Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers and "refresh" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert f'<strong id="error-code">{error}</strong>' in response.text
    assert "http-equiv" not in response.text.lower() and "<script" not in response.text.lower()  # nothing follows it


@pytest.mark.parametrize(("overrides", "error"), PROBLEMS)
def test_an_error_before_the_decision_is_shown_with_a_link_back(
    world: World, pages: ClientPages, overrides: dict[str, str | None], error: str
) -> None:
    """Issue 21 finding 4: /oauth/authorize?client_id=<any page>&…&code_challenge_method=plain no longer 303s to
    the page's redirect URI; the server's own page names the error and links back, host named."""
    callback = pages.url("/login")  # the "phishing page" on the app's host
    client_id = url_client(pages, callback)
    params, response = ask(world, client_id, callback, **overrides)
    shown_not_redirected(response, error)
    base, query = back_link(response)
    assert base == callback
    assert query["error"] == [error] and query["error_description"]
    assert query["state"] == [params["state"]] and query["iss"] == [ISSUER]
    host = urlsplit(callback).netloc
    assert f'<span class="host" id="app-host">{host}</span>' in response.text
    assert pages.hits("/login") == 0


def test_the_link_back_keeps_state_byte_for_byte(world: World, pages: ClientPages) -> None:
    """Issue 21 finding 4 and `state`: the link carries the state exactly as sent, escaped for HTML."""
    callback = pages.url("/cb?tenant=7")
    client_id = url_client(pages, callback)
    state = "a b+c&d=e/f?g#h%20é'\"<>"
    _, response = ask(world, client_id, callback, state=state, scope="bogus")
    shown_not_redirected(response, "invalid_scope")
    base, query = back_link(response)
    assert base == pages.url("/cb") and query["tenant"] == ["7"] and query["state"] == [state]


def test_without_state_the_link_has_none(world: World, pages: ClientPages) -> None:
    """Issue 21 finding 4: no state sent, none on the link."""
    callback = pages.url("/cb")
    _, response = ask(world, url_client(pages, callback), callback, state=None, response_type="token")
    _, query = back_link(response)
    assert "state" not in query and query["iss"] == [ISSUER]


@pytest.mark.parametrize(("overrides", "error"), PROBLEMS[:2])
def test_as_json_when_accept_prefers_json(
    world: World, pages: ClientPages, overrides: dict[str, str | None], error: str
) -> None:
    """Issue 21 finding 4: a JSON body, as for client_id problems, and still no redirect."""
    callback = pages.url("/cb")
    client_id = url_client(pages, callback)
    params = world.authorize_params(client_id, redirect_uri=callback, **overrides)
    response = world.http.get(
        "/oauth/authorize", params=params, headers={"accept": "application/json"}, follow_redirects=False
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error


def test_a_post_before_the_decision_is_not_redirected_either(world: World, pages: ClientPages) -> None:
    """Issue 21 finding 4: a form posted by another site (a tampered consent form) gets the page too."""
    callback = pages.url("/cb")
    client_id = url_client(pages, callback)
    params = world.authorize_params(client_id, redirect_uri=callback)
    fields = hidden_fields(world.http.get("/oauth/authorize", params=params).text)
    tampered = {**fields, "code_challenge_method": "plain", "decision": "allow"}
    shown_not_redirected(world.http.post("/oauth/authorize", data=tampered, follow_redirects=False), "invalid_request")


def test_a_burst_of_errors_redirects_none(world: World, pages: ClientPages) -> None:
    """Issue 21 finding 4: many such links opened at once (the page not yet cached) all give the page."""
    callback = pages.url("/login")
    client_id = url_client(pages, callback)
    requests = [world.authorize_params(client_id, redirect_uri=callback, code_challenge_method="plain")] * 16

    def one(params: dict[str, str]) -> Response:
        return world.http.get("/oauth/authorize", params=params, follow_redirects=False)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(one, requests))
    assert [response.status_code for response in responses] == [400] * 16
    assert all("location" not in response.headers for response in responses)


@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_after_the_decision_the_answer_is_redirected(world: World, pages: ClientPages, decision: str) -> None:
    """Issue 21 finding 4: once the user pressed a button, Allow and Deny go back as for any client."""
    callback = pages.url("/cb")
    client_id = url_client(pages, callback)
    params = world.authorize_params(client_id, redirect_uri=callback)
    fields = hidden_fields(world.http.get("/oauth/authorize", params=params).text)
    response = world.http.post("/oauth/authorize", data={**fields, "decision": decision}, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(callback + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [params["state"]] and query["iss"] == [ISSUER]
    assert ("code" in query) is (decision == "allow")
    assert query.get("error") == (None if decision == "allow" else ["access_denied"])


def test_a_registered_clients_errors_are_still_redirected(world: World) -> None:
    """Issue 21 finding 4: a client the operator registered keeps today's redirect (CONTRACT §2 Errors)."""
    params = world.authorize_params(world.public.client_id, code_challenge_method="plain")
    response = world.http.get("/oauth/authorize", params=params, follow_redirects=False)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == [params["state"]]
