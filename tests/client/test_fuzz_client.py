"""Property-based fuzzing of what the client library reads from servers, browsers and its own files: metadata
documents, the redirect back (state, iss, error), token responses, API answers, saved accounts. Each returns a
value or raises the client's own `ClientError` (or the documented `ValueError` of `from_json`), never anything else.

Servers are played by `httpx.MockTransport` answering whatever the test draws. Sizes: tests/fuzz.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sekisho.client import authorization, miauth, oauth, posting
from sekisho.client.discovery import ServerMetadata, discover, issuer_from, metadata_urls
from sekisho.client.errors import AuthorizationError, ClientError, TokenError, TokenStoreError, one_line
from sekisho.client.providers import Api
from sekisho.client.token_store import Account, file_stem
from sekisho.client.transport import Answer, url_problem
from tests.fuzz import fuzz

T = TypeVar("T")
ISSUER = "https://as.example"
ANY_TEXT = st.text(st.characters(), max_size=80)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
URLS = st.one_of(
    st.sampled_from(
        [
            "https://as.example/oauth/token",
            "http://127.0.0.1:8000/token",
            "http://[::1]/x",
            "http://localhost/x",
            "http://evil.test/x",
            "https://as.example/#f",
            "https://as.example:99999/",
            "https://[oops/",
            "javascript:alert(1)",
            "//as.example/x",
            "",
        ]
    ),
    ANY_TEXT,
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def serving(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@st.composite
def responses(draw: st.DrawFn, good: Any = None) -> httpx.Response:
    """Any answer a server might give: a status, and a body that is JSON, or almost, or nothing like it."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503]))
    body = draw(
        st.one_of(
            JSON_VALUES.map(lambda value: json.dumps(value).encode()),
            st.binary(max_size=100),
            st.just(b"[" * 50_000),
            st.just(b"x" * (1024 * 1024 + 1)),  # over the client's 1 MiB cap
            *([st.just(json.dumps(good).encode())] if good is not None else []),
        )
    )
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


# ---------------------------------------------------------------- finding a server


@fuzz(1)
@given(
    st.one_of(URLS, st.sampled_from(["as.example", " AS.Example/ ", "as.example?x", "user@as.example", "as.example:0"]))
)
def test_what_a_person_types_gives_an_issuer_or_a_discovery_error(server: str) -> None:
    try:
        issuer = issuer_from(server)
    except ClientError:
        return
    assert url_problem(issuer) is None
    assert issuer_from(issuer) == issuer  # idempotent
    rfc8414, oidc = metadata_urls(issuer)
    assert url_problem(rfc8414) is None and url_problem(oidc) is None


ENDPOINT = st.sampled_from([f"{ISSUER}/oauth/token", "http://evil.test/x", 5, None, "https://as.example/#x"])
DOCUMENTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"issuer": st.sampled_from([ISSUER, ISSUER + "/", "https://evil.test"]) | JSON_VALUES},
        optional={
            "authorization_endpoint": ENDPOINT | JSON_VALUES,
            "token_endpoint": ENDPOINT | JSON_VALUES,
            "revocation_endpoint": ENDPOINT | JSON_VALUES,
            "introspection_endpoint": ENDPOINT,
            "scopes_supported": st.lists(st.text(max_size=10), max_size=3) | JSON_VALUES,
            "grant_types_supported": JSON_VALUES,
            "code_challenge_methods_supported": st.sampled_from([["S256"], ["plain"], [], "S256"]) | JSON_VALUES,
            "authorization_response_iss_parameter_supported": JSON_VALUES,
            "client_id_metadata_document_supported": JSON_VALUES,
        },
    ),
)


@fuzz(1)
@given(DOCUMENTS)
def test_a_metadata_document_gives_metadata_or_a_discovery_error(document: Any) -> None:
    try:
        found = ServerMetadata.from_document(document, ISSUER)
    except ClientError:
        return
    assert found.issuer == ISSUER
    for url in (found.authorization_endpoint, found.token_endpoint, found.revocation_endpoint):
        assert url is None or url_problem(url) is None
    assert not found.code_challenge_methods_supported or "S256" in found.code_challenge_methods_supported


@fuzz(0.75)
@given(st.lists(responses(), min_size=2, max_size=2))
def test_discovery_over_any_answers_gives_metadata_or_a_discovery_error(answers: list[httpx.Response]) -> None:
    queue = list(answers)

    async def go() -> None:
        async with serving(lambda request: queue.pop(0)) as http:
            try:
                await discover(ISSUER, http)
            except ClientError:
                pass

    run(go())


# ---------------------------------------------------------------- the authorization request and the redirect back


@fuzz(0.75)
@given(URLS, st.text(max_size=20), st.dictionaries(st.sampled_from(["prompt", "state", "x"]), st.text(max_size=10)))
def test_an_authorization_url_carries_exactly_its_parameters(
    endpoint: str, client_id: str, extra: dict[str, str]
) -> None:
    try:
        request = authorization.start(
            authorization_endpoint=endpoint,
            client_id=client_id,
            redirect_uri="http://127.0.0.1:9/callback",
            scope="read:account",
            extra=extra,
        )
    except AuthorizationError:
        assert url_problem(endpoint) is not None
        return
    except ValueError:
        assert "state" in extra
        return
    sent = {name: values for name, values in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}
    own = parse_qs(urlsplit(endpoint).query, keep_blank_values=True)
    assert sent["state"] == [request.state] and sent["client_id"][-1] == client_id
    assert sent["code_challenge_method"] == ["S256"] and sent["response_type"][-1] == "code"
    assert all(sent[name][: len(values)] == values for name, values in own.items())  # the endpoint's own query kept


REQUEST = authorization.start(
    authorization_endpoint=f"{ISSUER}/oauth/authorize",
    client_id="app",
    redirect_uri="http://127.0.0.1:9/callback",
    scope="read:account",
    issuer=ISSUER,
)


@st.composite
def callbacks(draw: st.DrawFn) -> str:
    """A redirect back: state, iss, code and error each right, wrong, missing or repeated; or any query at all."""
    pairs: list[tuple[str, str]] = []
    options = {
        "state": [REQUEST.state, REQUEST.state + "x", "", "é"],
        "iss": [ISSUER, ISSUER + "/", "https://evil.test"],
        "code": ["sek_ac_123", ""],
        "error": ["access_denied", "invalid_scope", "weird", ""],
        "error_description": ["no\nway", "x" * 1000],
    }
    for name, choices in options.items():
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            pairs.append((name, draw(st.sampled_from(choices) | st.text(max_size=20))))
    query = urlencode(draw(st.permutations(pairs)))
    return draw(st.just(query) | st.text(max_size=80))


@fuzz(1.5)
@given(callbacks(), st.booleans())
def test_the_redirect_back_gives_a_code_only_when_state_and_iss_are_right(query: str, iss_required: bool) -> None:
    try:
        code = authorization.finish(REQUEST, query, iss_required=iss_required)
    except AuthorizationError as error:
        assert "\n" not in str(error)
        return
    answer = parse_qs(query, keep_blank_values=True)
    assert answer["state"] == [REQUEST.state] and answer.get("iss", [ISSUER]) == [ISSUER]
    assert "error" not in answer and answer["code"] == [code] and code
    assert "iss" in answer or not iss_required


# ---------------------------------------------------------------- token responses and the token endpoint


TOKEN_BODIES = st.one_of(
    st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=5),
    st.fixed_dictionaries(
        {"access_token": st.sampled_from(["sek_at_x", ""]) | JSON_VALUES},
        optional={
            "token_type": st.sampled_from(["Bearer", "bearer", "mac", "DPoP"]) | JSON_VALUES,
            "expires_in": st.sampled_from([3600, "3600", "٣", "1e3", -5, 1e308, True]) | JSON_VALUES,
            "refresh_token": st.sampled_from(["sek_rt_x", ""]) | JSON_VALUES,
            "scope": st.sampled_from(["read:account", ""]) | JSON_VALUES,
        },
    ),
)


@fuzz(1)
@given(TOKEN_BODIES, st.none() | st.just("sek_rt_old"))
def test_a_token_response_gives_tokens_or_a_token_error(body: dict[str, Any], refresh_token: str | None) -> None:
    try:
        tokens = oauth.parse_token_response(body, 1000.0, refresh_token=refresh_token)
    except TokenError as error:
        assert error.error == "server_error"
        return
    assert tokens.access_token and tokens.token_type == "Bearer" and isinstance(tokens.scope, str)
    assert tokens.refresh_token in (body.get("refresh_token"), refresh_token)
    assert oauth.TokenSet.from_json(json.loads(json.dumps(tokens.to_json()))) == tokens  # round trip, as saved


@fuzz(0.75)
@given(JSON_VALUES)
def test_saved_tokens_load_or_raise_value_error(data: Any) -> None:
    try:
        oauth.TokenSet.from_json(data)
    except ValueError:
        pass


@fuzz(1)
@given(
    responses(good={"access_token": "sek_at_x", "token_type": "Bearer", "expires_in": 60}),
    st.sampled_from(["code", "refresh", "revoke"]),
)
def test_the_token_endpoint_answering_anything_gives_tokens_or_a_token_error(answer: httpx.Response, call: str) -> None:
    credentials = oauth.ClientCredentials("app", "secret")

    async def go() -> None:
        async with serving(lambda request: answer) as http:
            url = f"{ISSUER}/oauth/token"
            try:
                if call == "code":
                    found = await oauth.exchange_code(
                        http,
                        url,
                        credentials,
                        code="c",
                        code_verifier="v" * 43,
                        redirect_uri="http://127.0.0.1/",
                        now=0,
                    )
                    assert answer.status_code == 200 and found.access_token
                elif call == "refresh":
                    await oauth.refresh(http, url, credentials, "sek_rt_x", now=0)
                else:
                    await oauth.revoke(http, url, credentials, "sek_at_x", hint="access_token")
            except TokenError as error:
                assert error.error and "\n" not in str(error)

    run(go())


@fuzz(0.5)
@given(URLS)
def test_credentials_go_only_to_https_or_loopback(url: str) -> None:
    problem = url_problem(url)

    async def go() -> None:
        async with serving(lambda request: httpx.Response(200, json={"access_token": "a"})) as http:
            try:
                await oauth.refresh(http, url, oauth.ClientCredentials("app", "secret"), "sek_rt_x", now=0)
            except TokenError:
                return
            assert problem is None, problem

    run(go())


@fuzz(0.75)
@given(st.binary(max_size=200) | st.just(b"[" * 100_000))
def test_an_answer_body_is_json_or_value_error(body: bytes) -> None:
    try:
        Answer(200, body).json()
    except ValueError:
        pass


# ---------------------------------------------------------------- MiAuth, posting and asking who one is


@fuzz(0.75)
@given(responses(good={"ok": True, "token": "sek_at_x", "user": {"username": "alice"}}))
def test_a_miauth_check_gives_a_token_or_a_client_error(answer: httpx.Response) -> None:
    session = miauth.MiAuthSession("s" * 36, f"{ISSUER}/miauth/x")

    async def go() -> None:
        async with serving(lambda request: answer) as http:
            try:
                token, user = await miauth.check(http, ISSUER, session)
            except ClientError:
                return
            assert isinstance(token, str) and isinstance(user, dict)

    run(go())


API_ANSWERS = {
    "misskey": {"id": "n1", "username": "alice", "createdNote": {"id": "n1"}},
    "x": {"data": {"id": "1", "username": "alice", "text": "hi"}},
}


@fuzz(1)
@given(st.sampled_from(["misskey", "x"]), st.sampled_from(["whoami", "post"]), st.data())
def test_an_api_answering_anything_gives_a_result_or_a_client_error(
    provider: str, call: str, data: st.DataObject
) -> None:
    answer = data.draw(responses(good=API_ANSWERS[provider]))
    api = Api("x" if provider == "x" else "sekisho", ISSUER, ISSUER + ("" if provider == "x" else "/api"))

    async def go() -> None:
        async with serving(lambda request: answer) as http:
            try:
                if call == "whoami":
                    me = await posting.whoami(http, api, posting.StaticBearer("sek_at_x"))
                    assert isinstance(me.id, str) and isinstance(me.username, str)
                else:
                    posted = await posting.post(http, api, "hello", "alice")
                    assert posted.url.startswith(("https://", ISSUER))
            except ClientError as error:
                assert "\n" not in str(error)

    run(go())


# ---------------------------------------------------------------- saved accounts and messages


ACCOUNT = Account(
    name="alice@as.example",
    provider="sekisho",
    issuer=ISSUER,
    api_base=ISSUER + "/api",
    token_endpoint=ISSUER + "/oauth/token",
    revocation_endpoint=None,
    credentials=oauth.ClientCredentials("app", None),
    tokens=oauth.TokenSet("sek_at_x", expires_at=10.0, refresh_token="sek_rt_x", scope="read:account"),
)


@st.composite
def account_files(draw: st.DrawFn) -> Any:
    """A saved account with any of its fields replaced, removed or added."""
    data = ACCOUNT.to_json()
    for _ in range(draw(st.integers(0, 3))):
        where = data.get(draw(st.sampled_from(["client", "tokens"]))) if draw(st.booleans()) else data
        if not isinstance(where, dict):
            where = data
        key = draw(st.sampled_from(sorted(where)) | st.text(max_size=5))
        if draw(st.booleans()):
            where.pop(key, None)
        else:
            where[key] = draw(JSON_VALUES)
    return draw(st.just(data) | JSON_VALUES)


@fuzz(1)
@given(account_files())
def test_a_saved_account_loads_or_raises_value_error(data: Any) -> None:
    try:
        account = Account.from_json(data)
    except ValueError:
        return
    assert Account.from_json(json.loads(json.dumps(account.to_json()))) == account  # round trip


@fuzz(1)
@given(ANY_TEXT | st.just("x" * 201), ANY_TEXT)
def test_account_names_give_distinct_safe_file_names(name: str, other: str) -> None:
    try:
        stem = file_stem(name)
    except TokenStoreError:
        assert not name or len(name) > 200 or not name.isprintable()
        return
    assert stem and not stem.startswith(".") and not set(stem) & set('/\\\x00:*?"<>|') and stem.isprintable()
    try:
        assert (file_stem(other) == stem) == (other == name)
    except TokenStoreError:
        pass


@fuzz(0.75)
@given(ANY_TEXT, st.integers(1, 400))
def test_a_message_is_one_printable_line_within_its_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit and line.isprintable() and line == line.strip()


@pytest.mark.parametrize("error", [ClientError("a\nb\x00c"), TokenError("x", "line one\r\nline two")])
def test_client_errors_are_one_line(error: ClientError) -> None:
    assert "\n" not in str(error) and "\r" not in str(error)
