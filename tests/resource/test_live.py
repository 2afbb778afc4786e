"""The remote verifiers over real HTTP on loopback, against a real `sekisho serve --access-token-format jwt`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from sekisho.errors import InvalidToken
from sekisho.resource import IntrospectionVerifier, JwtVerifier, TokenInfo, VerifierUnavailable
from tests.conftest import Databases
from tests.live import LiveServer, cli, free_port, serve_for, user_tokens

pytestmark = pytest.mark.e2e

PASSWORD = "resource e2e password"
REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(
        request, databases, tmp_path_factory, "resource", ["--access-token-format", "jwt"], user=("alice", PASSWORD)
    ) as running:
        yield running


def add_client(server: LiveServer, *options: str) -> dict[str, str]:
    added: dict[str, str] = json.loads(cli("client", "add", *options, "--json", database=server.database).stdout)
    return added


def check_twice(server: LiveServer, token: str) -> tuple[list[TokenInfo | InvalidToken], TokenInfo]:
    """Each verifier's verdict, as found through the server's metadata; and a local-only JwtVerifier's."""
    metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()
    api = add_client(server, "--name", "Notes API", "--resource-server")

    async def run() -> tuple[list[TokenInfo | InvalidToken], TokenInfo]:
        introspection = IntrospectionVerifier(
            metadata["introspection_endpoint"], api["client_id"], api["client_secret"]
        )
        issuer = metadata["issuer"]
        confirmed = JwtVerifier(metadata["jwks_uri"], issuer=issuer, audience=issuer, confirm_with=introspection)
        local = JwtVerifier(metadata["jwks_uri"], issuer=issuer, audience=issuer)
        verdicts: list[TokenInfo | InvalidToken] = []
        for verifier in (introspection, confirmed):
            try:
                verdicts.append(await verifier.verify(token))
            except InvalidToken as error:
                verdicts.append(error)
        local_info = await local.verify(token)
        for closing in (introspection, confirmed, local):
            await closing.aclose()
        return verdicts, local_info

    return asyncio.run(run())


def test_introspection_and_jwt_verifiers_agree_and_see_a_revocation(server: LiveServer) -> None:
    client = add_client(server, "--name", "App", "--redirect-uri", REDIRECT)
    registered: dict[str, str | None] = {**client}
    flow = user_tokens(
        server.url, registered, redirect_uri=REDIRECT, scope="read:account", username="alice", password=PASSWORD
    )
    token = str(flow["access_token"])
    verdicts, local = check_twice(server, token)
    assert verdicts == [local, local] and local.client_id == client["client_id"] and local.user_id
    revoked = httpx.post(
        server.url + "/oauth/revoke", data={"token": token}, auth=(client["client_id"], client["client_secret"])
    )
    assert revoked.status_code == 200
    verdicts, still_local = check_twice(server, token)
    assert all(isinstance(verdict, InvalidToken) for verdict in verdicts)
    assert still_local == local  # what JwtVerifier's docstring warns of: alone, it cannot see a revocation


def test_an_authorization_server_that_is_not_there_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    async def run() -> None:
        introspection = IntrospectionVerifier(url + "/oauth/introspect", "rs", "secret")
        for verifier in (introspection, JwtVerifier(url + "/oauth/jwks", issuer=url, audience=url)):
            with pytest.raises(VerifierUnavailable):
                await verifier.verify("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.e30.c2ln")
            await verifier.aclose()

    asyncio.run(run())
