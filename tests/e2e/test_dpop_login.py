"""`sekisho login` with DPoP (RFC 9449) against a real `sekisho serve --dpop-nonce`: a client registered with
`--require-dpop --require-par` logs in (pushed request with `dpop_jkt`, the nonce dance at the token endpoint), posts
with DPoP-bound tokens, refreshes them with a proof, and a stolen access token is refused as Bearer; the key stays in
the account's 0600 file and is printed nowhere. `--no-dpop` and `--device` are covered too."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from joserfc.jwk import ECKey

from tests import sql
from tests.conftest import Databases
from tests.e2e.test_client_cli import Home, add_client, age, finish, introspect, saved, start_login, tokens_of
from tests.e2e.test_device_flow import PASSWORD, decide_over_http, start_device_login
from tests.live import SEKISHO, LiveServer, consent_over_http, serve_for

pytestmark = pytest.mark.e2e

LOOPBACK = "http://127.0.0.1/callback"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    flags = ["--dpop-nonce"]
    with serve_for(request, databases, tmp_path_factory, "dpop-login", flags, user=("alice", PASSWORD)) as running:
        yield running


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return Home(tmp_path_factory.mktemp("dpop-home") / "config")


def login(server: LiveServer, home: Home, *args: str) -> tuple[dict[str, str], str]:
    """The whole login, the person consenting over HTTP; the authorization URL's query and all the CLI printed."""
    process, url = start_login(home, server.url, *args)
    query = dict(parse_qsl(urlsplit(url).query))
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        _, location = consent_over_http(browser, query, username="alice", password=PASSWORD)
    httpx.get(location, timeout=10)  # the browser follows the redirect to the CLI's loopback listener
    code, out, err = finish(process)
    assert code == 0, err
    return query, out + err


def saved_key(home: Home) -> ECKey:
    key = saved(home)["dpop_key"]
    assert isinstance(key, dict)
    return ECKey.import_key(key)


def bearer_replay(server: LiveServer, token: str) -> httpx.Response:
    return httpx.post(server.url + "/api/i", json={}, headers={"Authorization": f"Bearer {token}"})


def test_login_post_refresh_with_dpop_par_and_nonces(server: LiveServer, home: Home) -> None:
    bot = add_client(
        server, "--name", "DPoP bot", "--redirect-uri", LOOPBACK, "--public", "--require-dpop", "--require-par"
    )
    query, printed = login(server, home, "--client-id", bot["client_id"])
    assert set(query) == {"client_id", "request_uri"}  # pushed: dpop_jkt and the rest went to /oauth/par
    [file] = home.account_files()
    assert file.stat().st_mode & 0o777 == 0o600
    key = saved_key(home)
    assert key.is_private and str(saved(home)["dpop_key"]["d"]) not in printed  # type: ignore[index]
    first = tokens_of(home)
    assert first["token_type"] == "DPoP"
    assert introspect(server, str(first["access_token"]))["cnf"] == {"jkt": key.thumbprint()}
    # the code itself was bound to the key by the pushed request's dpop_jkt (RFC 9449 §10)
    codes = sql.rows(server.database, "SELECT jkt FROM authorization_codes WHERE client_id = :c", c=bot["client_id"])
    assert codes == [(key.thumbprint(),)]

    assert home.ok("post", "posted with a DPoP-bound token").startswith("posted ")
    assert home.ok("whoami").startswith("@alice on ")
    stolen = bearer_replay(server, str(first["access_token"]))
    assert stolen.status_code == 401 and "invalid_token" in stolen.headers["www-authenticate"]

    age(home)  # a forced refresh: the refresh token is bound to the key too (a public client, RFC 9449 §5)
    assert home.ok("post", "after a refresh").startswith("posted ")
    second = tokens_of(home)
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["token_type"] == "DPoP" and saved_key(home).thumbprint() == key.thumbprint()
    assert introspect(server, str(second["access_token"]))["cnf"] == {"jkt": key.thumbprint()}
    assert file.stat().st_mode & 0o777 == 0o600
    assert bearer_replay(server, str(second["access_token"])).status_code == 401

    token = home.run("token")
    assert token.returncode == 0 and token.stdout.strip() == second["access_token"]
    assert "DPoP-bound" in token.stderr and str(saved(home)["dpop_key"]["d"]) not in token.stderr  # type: ignore[index]
    assert home.ok("logout").startswith("logged out")
    assert introspect(server, str(second["access_token"])) == {"active": False}


def test_a_stolen_refresh_token_needs_the_key(server: LiveServer, home: Home) -> None:
    bot = add_client(server, "--name", "DPoP bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, "--client-id", bot["client_id"])
    refresh_token = str(tokens_of(home)["refresh_token"])
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": bot["client_id"]}
    thief = httpx.post(server.url + "/oauth/token", data=form)
    assert thief.status_code == 400 and thief.json()["error"] == "invalid_grant"
    assert home.ok("post", "the refresh token still works for its holder").startswith("posted ")


def test_no_dpop_keeps_bearer_tokens(server: LiveServer, home: Home) -> None:
    """--no-dpop, like an account saved before DPoP (no `dpop_key`): Bearer, refreshes included."""
    bot = add_client(server, "--name", "Bearer bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, "--client-id", bot["client_id"], "--no-dpop")
    assert "dpop_key" not in saved(home) and tokens_of(home)["token_type"] == "Bearer"
    assert home.ok("post", "a Bearer post").startswith("posted ")
    assert bearer_replay(server, str(tokens_of(home)["access_token"])).status_code == 200
    age(home)
    assert home.ok("post", "after a Bearer refresh").startswith("posted ")
    assert tokens_of(home)["token_type"] == "Bearer" and "dpop_key" not in saved(home)


def test_device_login_with_dpop(server: LiveServer, home: Home) -> None:
    added = add_client(server, "--name", "TV", "--public", "--grant-type", DEVICE, "--grant-type", "refresh_token")
    process, _, url = start_device_login(home, server.url, "--client-id", added["client_id"])
    decide_over_http(server, url, "allow")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert tokens_of(home)["token_type"] == "DPoP"
    key = saved_key(home)
    assert introspect(server, str(tokens_of(home)["access_token"]))["cnf"] == {"jkt": key.thumbprint()}
    assert home.ok("post", "from the TV").startswith("posted ")


def test_parallel_posts_refresh_a_bound_token_once(server: LiveServer, home: Home) -> None:
    """Four `sekisho post` at once on an expired DPoP login: one refresh with a proof (the others take its tokens
    under the account's lock); a second refresh with the rotated, key-bound refresh token would end the login."""
    bot = add_client(server, "--name", "DPoP bot", "--redirect-uri", LOOPBACK, "--public")
    login(server, home, "--client-id", bot["client_id"])
    before = tokens_of(home)
    age(home)
    posts = [
        subprocess.Popen(
            [*SEKISHO, "post", f"at once {n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=home.env
        )
        for n in range(4)
    ]
    done = [(process.communicate(timeout=60), process.returncode) for process in posts]
    assert all(code == 0 for _, code in done), done
    after = tokens_of(home)
    assert after["refresh_token"] != before["refresh_token"] and after["token_type"] == "DPoP"
    assert introspect(server, str(after["refresh_token"]))["active"] is True  # the family was not revoked
