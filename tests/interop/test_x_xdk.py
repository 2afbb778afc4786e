"""X's own Python SDK, `xdk` (the `interop` extra), against a real `sekisho serve --demo-api`, with only its base
URLs changed (issue 23): its OAuth 2.0 PKCE helper (authorization URL → consent → token → refresh), then a post's
whole life through its documented clients. Assertions are on what xdk parsed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.live import LiveServer, cli, consent_over_http, free_port, live_server
from tests.needs import IN_CI

try:
    import requests
    from xdk import Client
    from xdk.oauth2_auth import OAuth2PKCEAuth
    from xdk.posts.models import CreateRequest
except ImportError:  # pragma: no cover - the interop extra is missing: a skip here, a failure in CI
    if IN_CI:
        raise
    pytest.skip("xdk is missing: pip install -e '.[interop]'", allow_module_level=True)

pytestmark = pytest.mark.e2e

USER = ("alice", "alice's password 1")
SCOPES = ["tweet.read", "tweet.write", "users.read", "offline.access"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("xdk"), user=USER) as running:
        yield running


@pytest.fixture
def app(server: LiveServer) -> dict[str, str]:
    """A confidential app, as X's developer console makes one (xdk refreshes only with a client secret)."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    added = cli(
        "client", "add", "--name", "xdk bot", "--redirect-uri", redirect_uri, "--json", database=server.database
    )
    return {**json.loads(added.stdout), "redirect_uri": redirect_uri}


def sign_in(server: LiveServer, authorization_url: str) -> str:
    """A browser at xdk's authorization URL: login, consent, Allow; the callback URL it is sent back to."""
    parts = urlsplit(authorization_url)
    assert parts.path == "/i/oauth2/authorize"
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        user, password = USER
        _, location = consent_over_http(
            browser, dict(parse_qsl(parts.query)), username=user, password=password, path=parts.path
        )
    return location


def test_xdk_logs_in_refreshes_posts_reads_and_deletes(
    server: LiveServer, app: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests-oauthlib refuses to refresh over http://; a bot writer testing on loopback sets this.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = OAuth2PKCEAuth(
        base_url=server.url,
        authorization_base_url=server.url + "/i",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        redirect_uri=app["redirect_uri"],
        scope=SCOPES,
    )
    callback = sign_in(server, auth.get_authorization_url(state="state-1"))
    assert dict(parse_qsl(urlsplit(callback).query)).keys() == {"code", "state"}  # X sends no `iss`
    token = auth.fetch_token(callback)
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["scope"] == " ".join(SCOPES) and token["refresh_token"].startswith("sek_rt_")
    refreshed = auth.refresh_token()
    assert refreshed["access_token"] != token["access_token"] and refreshed["expires_in"] == 7200
    assert refreshed["refresh_token"] != token["refresh_token"]

    client = Client(base_url=server.url, access_token=refreshed["access_token"])
    me = client.users.get_me(user_fields=["created_at"]).data
    assert me is not None and me.username == "alice" and me.name == "alice" and me.created_at
    assert client.users.get_by_id(me.id).data.username == "alice"

    made = [client.posts.create(body=CreateRequest(text=f"hello from xdk {n}")).data for n in range(6)]
    assert made[0].text == "hello from xdk 0" and made[0].edit_history_tweet_ids == [made[0].id]
    shown = client.posts.get_by_id(made[0].id, post_fields=["author_id", "created_at"], expansions=["author_id"])
    assert shown.data.text == "hello from xdk 0" and shown.data.author_id == me.id
    assert [user.username for user in shown.includes.users] == ["alice"]

    pages = list(client.users.get_posts(me.id, max_results=5))  # xdk follows meta.next_token
    assert [len(page.data) for page in pages] == [5, 1]
    assert [post.text for page in pages for post in page.data] == [f"hello from xdk {n}" for n in range(5, -1, -1)]

    assert client.posts.delete(made[0].id).data.deleted is True
    gone = client.posts.get_by_id(made[0].id)
    assert gone.data is None and gone.errors[0].title == "Not Found Error"
    assert gone.errors[0].type == "https://api.x.com/2/problems/resource-not-found"
    both = client.posts.get_by_ids(ids=[made[1].id, made[0].id])
    assert [post.text for post in both.data] == ["hello from xdk 1"]
    assert [error.resource_id for error in both.errors] == [made[0].id]


def test_xdk_sees_x_problem_bodies(server: LiveServer, app: dict[str, str]) -> None:
    bad = Client(base_url=server.url, access_token="sek_at_not-a-token")
    with pytest.raises(requests.HTTPError) as caught:
        bad.users.get_me()
    assert caught.value.response.status_code == 401
    assert caught.value.response.json()["title"] == "Unauthorized"
    response = httpx.post(server.url + "/2/oauth2/token", data={"grant_type": "authorization_code"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_public_client_token_with_client_id_in_the_body(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib builds the authorization URL too
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    added = cli(
        "client",
        "add",
        "--name",
        "public bot",
        "--public",
        "--redirect-uri",
        redirect_uri,
        "--json",
        database=server.database,
    )
    client_id = json.loads(added.stdout)["client_id"]
    auth = OAuth2PKCEAuth(
        base_url=server.url,
        authorization_base_url=server.url + "/i",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=SCOPES[:3],
    )
    token = auth.fetch_token(sign_in(server, auth.get_authorization_url()))
    assert token["refresh_token"] is None and token["expires_in"] == 7200  # no offline.access: no refresh token
    client = Client(base_url=server.url, access_token=token["access_token"])
    assert client.users.get_me().data.username == "alice"
