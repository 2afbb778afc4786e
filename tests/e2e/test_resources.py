"""Resource indicators (RFC 8707) and protected resource metadata (RFC 9728) over real HTTP against `sekisho serve
--resource URI`: requests-oauthlib's OAuth2Session as the client, sekisho.resource's verifiers as resource servers,
parallel redemptions as an attacker would send them; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from requests_oauthlib import OAuth2Session

from sekisho.errors import InvalidToken
from sekisho.resource import IntrospectionVerifier, JwtVerifier, TokenInfo, TokenVerifier
from tests.conftest import Databases
from tests.e2e.test_flow import REDIRECT, register
from tests.live import LiveServer, cli, consent_over_http, pkce_pair, serve_for

pytestmark = pytest.mark.e2e

PASSWORD = "e2e password 2"
MCP = "https://mcp.example/mcp"
FILES = "https://files.example/"
OWN = "https://own.example/"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    flags = ["--access-token-format", "jwt", "--resource", MCP, "--resource", FILES]
    with serve_for(request, databases, tmp_path_factory, "resources", flags, user=("alice", PASSWORD)) as running:
        yield running


def resource_server(server: LiveServer) -> tuple[str, str]:
    done = cli("client", "add", "--name", "MCP server", "--resource-server", "--json", database=server.database)
    registered = json.loads(done.stdout)
    return registered["client_id"], registered["client_secret"]


def consent(server: LiveServer, authorization_url: str) -> str:
    """A browser's walk from the client's authorization URL to the Allow button; the redirect's Location."""
    params = dict(parse_qsl(urlsplit(authorization_url).query))
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        _, location = consent_over_http(browser, params, username="alice", password=PASSWORD)
    return location


def check(verifier: TokenVerifier, token: str) -> TokenInfo:
    async def main() -> TokenInfo:
        try:
            return await verifier.verify(token)
        finally:
            await verifier.aclose()  # type: ignore[attr-defined]

    return asyncio.run(main())


def jwt_verifier(server: LiveServer, audience: str) -> JwtVerifier:
    return JwtVerifier(f"{server.url}/oauth/jwks", issuer=server.url, audience=audience)


def test_an_oauth_library_asks_for_a_resource_and_gets_a_token_only_it_takes(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server is http on loopback
    client = register(server, "--resource", OWN)
    client_id, secret = str(client["client_id"]), str(client["client_secret"])
    session = OAuth2Session(client_id, redirect_uri=REDIRECT, scope=["read:account", "write:notes"], pkce="S256")
    url, _ = session.authorization_url(f"{server.url}/oauth/authorize", resource=MCP)
    location = consent(server, url)
    token_url = f"{server.url}/oauth/token"
    tokens = session.fetch_token(token_url, authorization_response=location, client_secret=secret, resource=MCP)
    access = str(tokens["access_token"])

    # The MCP server (audience MCP) takes it, by JWT and by introspection; a resource server of another refuses it.
    assert check(jwt_verifier(server, MCP), access).audience == (MCP,)
    with pytest.raises(InvalidToken, match="another audience"):
        check(jwt_verifier(server, FILES), access)
    api = resource_server(server)
    assert check(IntrospectionVerifier(f"{server.url}/oauth/introspect", *api, audience=MCP), access).audience == (MCP,)
    with pytest.raises(InvalidToken, match="another audience"):
        check(IntrospectionVerifier(f"{server.url}/oauth/introspect", *api, audience=OWN), access)
    # so does the demo API at the issuer, pointing at its own metadata
    me = httpx.post(f"{server.url}/api/i", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401
    assert f'resource_metadata="{server.url}/.well-known/oauth-protected-resource"' in me.headers["www-authenticate"]

    # A refresh may not widen the audience to a resource the grant did not name, even one the client may name.
    with pytest.raises(OAuth2Error) as refused:
        session.refresh_token(token_url, refresh_token=tokens["refresh_token"], auth=(client_id, secret), resource=OWN)
    assert refused.value.error == "invalid_target"
    renewed = session.refresh_token(
        token_url, refresh_token=tokens["refresh_token"], auth=(client_id, secret), resource=MCP
    )
    assert check(jwt_verifier(server, MCP), str(renewed["access_token"])).audience == (MCP,)


def authorize_params(client_id: str, state: str, resource: str) -> tuple[dict[str, str], str]:
    """An authorization request for `resource`, and its PKCE verifier."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "read:account",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
    }
    return params, verifier


def test_a_resource_not_allowed_is_redirected_as_invalid_target(server: LiveServer) -> None:
    params, _ = authorize_params(str(register(server)["client_id"]), "s1", OWN)  # another client's resource
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = browser.get("/oauth/authorize", params=params)
    assert page.status_code == 303
    query = dict(parse_qsl(urlsplit(page.headers["location"]).query))
    assert query["error"] == "invalid_target" and query["state"] == "s1" and query["iss"] == server.url


def code_for(server: LiveServer, client_id: str, state: str) -> tuple[str, str]:
    """A code for MCP, by alice's consent: (code, PKCE verifier)."""
    params, verifier = authorize_params(client_id, state, MCP)
    url = f"{server.url}/oauth/authorize?" + urlencode(params)
    return dict(parse_qsl(urlsplit(consent(server, url)).query))["code"], verifier


def test_parallel_redemptions_of_one_code_with_a_resource_win_once(server: LiveServer) -> None:
    client = register(server)
    client_id, secret = str(client["client_id"]), str(client["client_secret"])
    code, verifier = code_for(server, client_id, "s2")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT,
    }

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, auth=(client_id, secret), timeout=20) as http:
            asks = [
                http.post("/oauth/token", data={**form, **({"resource": MCP} if number % 2 else {})})
                for number in range(12)
            ]
            return await asyncio.gather(*asks)

    answers = asyncio.run(burst())
    won = [answer for answer in answers if answer.status_code == 200]
    assert len(won) == 1, [answer.text for answer in answers]
    assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code != 200)
    # the replays ended that grant (RFC 6749 §4.1.2): its refresh token is revoked
    gone = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": won[0].json()["refresh_token"]},
        auth=(client_id, secret),
    )
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
    refresh_token = fresh_refresh_token(server, client_id, secret)

    async def refreshes() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, auth=(client_id, secret), timeout=20) as http:
            asks = [
                http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token, "resource": MCP},
                )
                for _ in range(8)
            ]
            return await asyncio.gather(*asks)

    rotated = asyncio.run(refreshes())
    assert sum(answer.status_code == 200 for answer in rotated) == 1, [answer.text for answer in rotated]


def fresh_refresh_token(server: LiveServer, client_id: str, secret: str) -> str:
    """A new grant for MCP, exchanged once: its refresh token."""
    code, verifier = code_for(server, client_id, "s3")
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT}
    answer = httpx.post(f"{server.url}/oauth/token", data=form, auth=(client_id, secret))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refresh_token"])


def test_the_demo_api_describes_itself(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/.well-known/oauth-protected-resource")
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    assert response.json()["resource"] == server.url and response.json()["authorization_servers"] == [server.url]


def test_client_add_takes_resources_and_refuses_bad_ones(server: LiveServer) -> None:
    added = register(server, "--resource", OWN, "--resource", MCP)
    listed = json.loads(cli("client", "list", "--json", database=server.database).stdout)
    assert next(row for row in listed if row["client_id"] == added["client_id"])["resources"] == [OWN, MCP]
    for bad in ("/relative", "https://own.example/#frag"):
        done = cli(
            "client", "add", "--name", "Bad", "--redirect-uri", REDIRECT, "--resource", bad,
            database=server.database, check=False,
        )  # fmt: skip
        assert done.returncode == 1 and "--resource" in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_a_bad_resource(tmp_path_factory: pytest.TempPathFactory) -> None:
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("bad-resource")
    done = subprocess.run(
        [sys.executable, "-m", "sekisho", "serve", "--database", f"sqlite:///{folder / 'x.db'}", "--resource", "/mcp"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    assert done.returncode == 2 and "--resource" in done.stderr and "Traceback" not in done.stderr
