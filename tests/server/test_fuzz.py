"""Property-based fuzzing of every endpoint: whatever comes in, the answer is a 2xx/3xx/4xx with the right shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import World

FIELDS = [
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret",
    "token", "token_type_hint", "response_type", "state", "code_challenge", "code_challenge_method", "decision",
    "csrf_token", "username", "password", "next", "i", "text", "noteId",
]  # fmt: skip
GRANTS = ["authorization_code", "refresh_token", "client_credentials", "password", ""]
values = st.one_of(st.text(max_size=80), st.sampled_from(GRANTS), st.just("S256"), st.just("code"))
params = st.lists(st.tuples(st.sampled_from(FIELDS), values), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
json_bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=6)
content_types = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "", "application/json; charset=utf-16"]
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

POST_ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/authorize", "/login", "/logout"]
API_ENDPOINTS = ["/api/i", "/api/notes/create", "/api/notes/show", "/api/notes/delete", "/2/tweets"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tests.conftest import make_world

    with make_world(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}") as world:
        world.login()
        yield world


def check_shape(response: object, path: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, (path, status, response.text)  # type: ignore[attr-defined]
    content_type = response.headers.get("content-type", "")  # type: ignore[attr-defined]
    if status >= 400 and content_type.startswith("application/json"):
        body = response.json()  # type: ignore[attr-defined]
        if path.startswith("/2/"):  # X's problem shape
            assert body["status"] == status and isinstance(body["title"], str), body
        else:
            assert isinstance(body.get("error"), str | dict), body


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@FUZZ
@given(items=params, as_json=st.booleans())
def test_post_parameters(shared: World, path: str, items: list[tuple[str, str]], as_json: bool) -> None:
    if as_json:
        response = shared.http.post(path, json=dict(items), follow_redirects=False)
    else:
        form = {"content-type": "application/x-www-form-urlencoded"}
        response = shared.http.post(path, content=urlencode(items), headers=form, follow_redirects=False)
    check_shape(response, path)


@pytest.mark.parametrize("path", [*POST_ENDPOINTS, *API_ENDPOINTS])
@FUZZ
@given(body=st.binary(max_size=300), content_type=content_types, auth=st.text(max_size=40))
def test_raw_bodies_and_headers(shared: World, path: str, body: bytes, content_type: str, auth: str) -> None:
    headers = {"content-type": content_type}
    if auth.isascii() and auth.isprintable():
        headers["authorization"] = auth
    response = shared.http.post(path, content=body, headers=headers, follow_redirects=False)
    check_shape(response, path)


@pytest.mark.parametrize("path", [*API_ENDPOINTS, "/oauth/token"])
@FUZZ
@given(body=json_bodies)
def test_json_documents(shared: World, path: str, body: dict[str, object]) -> None:
    response = shared.http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    check_shape(response, path)


@FUZZ
@given(items=params)
def test_authorize_query(shared: World, items: list[tuple[str, str]]) -> None:
    response = shared.http.get("/oauth/authorize", params=items, follow_redirects=False)  # type: ignore[arg-type]
    check_shape(response, "/oauth/authorize")
    if response.status_code in (302, 303):
        location = response.headers["location"]
        # Never an open redirect: only the login page or a registered redirect URI.
        assert location.startswith(("/login?", "https://app.example/callback", "http://127.0.0.1/cb")), location


@FUZZ
@given(path=st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40), query=st.text(max_size=40))
def test_any_get(shared: World, path: str, query: str) -> None:
    response = shared.http.get("/" + path.lstrip("/"), params={"next": query}, follow_redirects=False)
    check_shape(response, path)
