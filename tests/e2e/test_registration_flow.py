"""Dynamic client registration over real HTTP against real `sekisho serve` processes: a client registers itself
(RFC 7591), then Authlib's OAuth 2.0 client, unmodified, runs the code flow with PKCE, refresh and revocation as
that client; the token policy with `sekisho registration-token add`; the per-address limit across two servers on
one database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import Databases
from tests.live import LiveServer, cli, consent_over_http, live_server, serve_for

pytestmark = pytest.mark.e2e

PASSWORD = "e2e password 1"
REDIRECT = "http://127.0.0.1:9/callback"  # never followed: the test reads the Location header
SCOPE = "read:account write:notes"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    flags = ("--registration", "open", "--registration-limit", "1000")
    with serve_for(request, databases, tmp_path_factory, "dcr", flags, user=("alice", PASSWORD)) as running:
        yield running


def metadata_of(server: LiveServer) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()
    return found


def register(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(url, json=body, headers=headers)


def run_code_flow(server: LiveServer, client: OAuth2Client) -> dict[str, Any]:
    """Authlib makes the authorization URL and redeems the code; a browser (httpx) signs in and allows."""
    metadata = metadata_of(server)
    verifier = "v" * 20 + "-verifier-of-authlib-" + "x" * 20
    url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    with httpx.Client(base_url=server.url) as browser:
        page, location = consent_over_http(browser, dict(httpx.URL(url).params), username="alice", password=PASSWORD)
    assert "Notes Agent" in page  # the consent page names the app by the client_name it registered
    assert f"state={state}" in location and "iss=" in location
    token: dict[str, Any] = client.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert create_s256_code_challenge(verifier) in url
    return token


@pytest.mark.parametrize("method", ["none", "client_secret_basic", "client_secret_post"])
def test_authlib_runs_the_code_flow_as_a_client_that_registered_itself(server: LiveServer, method: str) -> None:
    metadata = metadata_of(server)
    answer = register(
        metadata["registration_endpoint"],
        {
            "client_name": "Notes Agent",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": method,
            "scope": SCOPE,
        },
    )
    assert answer.status_code == 201, answer.text
    registered = answer.json()
    assert ("client_secret" in registered) == (method != "none")
    with OAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered.get("client_secret"),
        token_endpoint_auth_method=method,
        redirect_uri=REDIRECT,
        scope=SCOPE,
        code_challenge_method="S256",
    ) as client:
        token = run_code_flow(server, client)
        assert token["token_type"] == "Bearer" and token["scope"] == SCOPE and token["refresh_token"]
        me = client.post(server.url + "/api/i", json={})
        assert me.status_code == 200 and me.json()["username"] == "alice"
        refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        revoked = client.revoke_token(metadata["revocation_endpoint"], token=refreshed["refresh_token"])
        assert revoked.status_code == 200
        with pytest.raises(OAuthError) as refused:
            client.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])
        assert refused.value.error == "invalid_grant"
    listed = json.loads(cli("client", "list", "--json", database=server.database).stdout)
    assert any(row["client_id"] == registered["client_id"] and row["dynamic"] for row in listed)


def test_registration_token_add_makes_a_token_the_token_policy_takes(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> None:
    with serve_for(request, databases, tmp_path_factory, "dcr-token", ("--registration", "token")) as running:
        endpoint = metadata_of(running)["registration_endpoint"]
        body = {"client_name": "Notes Agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
        missing = register(endpoint, body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="sekisho"'
        made = json.loads(cli("registration-token", "add", "--uses", "2", "--json", database=running.database).stdout)
        assert made["token"].startswith("sek_it_") and made["uses"] == 2 and made["expires_at"]
        auth = {"authorization": f"Bearer {made['token']}"}
        assert [register(endpoint, body, **auth).status_code for _ in range(3)] == [201, 201, 401]
        plain = cli("registration-token", "add", "--expires-in", "0", "--uses", "0", database=running.database)
        token = plain.stdout.strip()
        assert token.startswith("sek_it_") and "no expiry" in plain.stderr and "any number" in plain.stderr
        assert register(endpoint, body, authorization=f"Bearer {token}").status_code == 201
        listed = json.loads(cli("registration-token", "list", "--json", database=running.database).stdout)
        # listed by creation time in seconds: two tokens made within one second come in either order
        by_id = {row["id"]: (row["uses_left"], row["expires_at"]) for row in listed}
        assert len(by_id) == 2 and by_id.pop(made["id"]) == (0, made["expires_at"])
        [(forever, left)] = by_id.items()
        assert left == (None, None)
        assert f"its id is {forever}" in plain.stderr
        cli("registration-token", "remove", forever, database=running.database)
        withdrawn = register(endpoint, body, authorization=f"Bearer {token}")
        assert withdrawn.status_code == 401 and withdrawn.json()["error"] == "invalid_token"
        again = cli("registration-token", "remove", forever, database=running.database, check=False)
        assert again.returncode == 1 and again.stderr == f"sekisho: no initial access token {forever!r}\n"
        stored = cli("client", "list", "--json", database=running.database).stdout
        stored += cli("registration-token", "list", database=running.database).stdout
        assert made["token"] not in stored and token not in stored


def test_off_by_default_over_http(tmp_path_factory: pytest.TempPathFactory) -> None:
    with live_server(tmp_path_factory.mktemp("dcr-off")) as running:
        assert "registration_endpoint" not in metadata_of(running)
        assert register(running.url + "/oauth/register", {"redirect_uris": [REDIRECT]}).status_code == 404


def test_a_burst_across_two_servers_on_one_database_is_held_to_the_limit(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> None:
    """Forty registrations at once from one address, split across two servers sharing a database: exactly the
    limit's worth get a client."""
    flags = ("--registration", "open", "--registration-limit", "7")
    with serve_for(request, databases, tmp_path_factory, "dcr-burst-a", flags) as first:
        tmp = tmp_path_factory.mktemp("dcr-burst-b")
        with live_server(tmp, flags, database=first.database) as second:
            statuses = asyncio.run(burst([first.url, second.url], 40))
    assert sorted(statuses) == [201] * 7 + [429] * 33
    listed = json.loads(cli("client", "list", "--json", database=first.database).stdout)
    assert sum(row["dynamic"] for row in listed) == 7


async def burst(urls: list[str], count: int) -> list[int]:
    body = {"client_name": "Burst", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=count)) as http:
        answers = await asyncio.gather(
            *(http.post(urls[n % len(urls)] + "/oauth/register", json=body) for n in range(count))
        )
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0 and answer.json()["error"] == "too_many_requests"
    return [answer.status_code for answer in answers]
