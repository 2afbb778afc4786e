"""A real `sekisho serve --access-token-format jwt` and `sekisho keys rotate` run beside it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from sekisho.server.signing_keys import SIGNER_MEMORY
from tests.conftest import Databases
from tests.live import LiveServer, cli, serve_for, user_tokens

pytestmark = pytest.mark.e2e

PASSWORD = "jwt e2e password"
REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with serve_for(
        request, databases, tmp_path_factory, "jwt", ["--access-token-format", "jwt"], user=("alice", PASSWORD)
    ) as running:
        yield running


def token(server: LiveServer) -> str:
    client = json.loads(
        cli("client", "add", "--name", "JWT bot", "--redirect-uri", REDIRECT, "--json", database=server.database).stdout
    )
    body = user_tokens(
        server.url, client, redirect_uri=REDIRECT, scope="read:account", username="alice", password=PASSWORD
    )
    return str(body["access_token"])


def validate(server: LiveServer, access_token: str) -> jwt.Token:
    """What any JOSE library does with only the metadata and the JWKS."""
    metadata = httpx.get(server.url + "/.well-known/oauth-authorization-server").json()
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())
    decoded = jwt.decode(access_token, keys, algorithms=["ES256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]}, aud={"essential": True, "value": metadata["issuer"]}
    ).validate(decoded.claims)
    return decoded


def test_keys_rotate_beside_a_running_server(server: LiveServer) -> None:
    old = token(server)
    old_kid = validate(server, old).header["kid"]
    listed = json.loads(cli("keys", "list", "--json", database=server.database).stdout)
    assert [(row["kid"], row["retired_at"]) for row in listed] == [(old_kid, None)]
    rotated = cli("keys", "rotate", database=server.database).stdout
    new_kid = rotated.removeprefix("new signing key: ").strip()
    assert new_kid and new_kid != old_kid
    # The running server signs with it once it reads the keys again: within SIGNER_MEMORY seconds of the rotation.
    deadline = time.monotonic() + SIGNER_MEMORY + 5
    new = token(server)
    while validate(server, new).header["kid"] != new_kid and time.monotonic() < deadline:
        time.sleep(0.25)
        new = token(server)
    assert validate(server, new).header["kid"] == new_kid
    assert validate(server, old).header["kid"] == old_kid  # and still publishes the old key
    for access_token in (old, new):
        me = httpx.post(server.url + "/api/i", headers={"Authorization": f"Bearer {access_token}"})
        assert me.status_code == 200 and me.json()["username"] == "alice"
    statuses = {
        row["kid"]: row["retired_at"] is None
        for row in json.loads(cli("keys", "list", "--json", database=server.database).stdout)
    }
    assert statuses == {old_kid: False, new_kid: True}
