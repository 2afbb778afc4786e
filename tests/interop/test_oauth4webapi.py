"""oauth4webapi (npm, tests/oauth4webapi) against a real, unmodified `sekisho serve` (issue 26): discovery, a pushed
authorization request (RFC 9126) with PKCE, the consent a browser gives over HTTP (signing in first), the code
exchange and a refresh; for a public and a confidential client, on a server that offers PAR and on one started with
`--require-par`; and the same with DPoP (RFC 9449) on a server started with `--dpop-nonce`, the library's nonce
dance included, ending in a call to the demo API with `protectedResourceRequest`. The library's strict checks
(issuer, `iss`, `state`, response shapes) run unchanged; assertions are on what it parsed, and on the tokens at the
introspection endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import LiveServer, cli, introspect, live_server, node_flow
from tests.needs import system_node

pytestmark = pytest.mark.e2e

FOLDER = Path(__file__).parents[1] / "oauth4webapi"
USER = ("alice", "alice's password 1")
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never listened on: the redirect back is handed to flow.mjs


@pytest.fixture(scope="module")
def node_binary() -> str:
    return system_node(FOLDER)


@pytest.fixture(scope="module", params=[False, True], ids=["par-offered", "par-required"])
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    extra = ["--require-par"] if request.param else []
    with live_server(tmp_path_factory.mktemp("oauth4webapi"), extra, user=USER) as running:
        yield running


def add_client(server: LiveServer, *options: str) -> dict[str, str]:
    added = cli(
        "client",
        "add",
        "--name",
        "oauth4webapi",
        "--redirect-uri",
        REDIRECT_URI,
        *options,
        "--json",
        database=server.database,
    )
    found: dict[str, str] = json.loads(added.stdout)
    return found


def run_flow(
    node_binary: str, server: LiveServer, client: dict[str, str], **extra: str
) -> tuple[dict[str, str], dict[str, object]]:
    """flow.mjs: the authorization URL it prints, the consent a browser gives, and the RESULT line it prints."""
    environment = extra | {
        "ISSUER": server.url,
        "CLIENT_ID": client["client_id"],
        "CLIENT_SECRET": client["client_secret"] or "",
        "REDIRECT_URI": REDIRECT_URI,
        "SCOPE": "read:account write:notes",
    }
    return node_flow([node_binary, "flow.mjs"], FOLDER, environment, server, USER)


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_par_pkce_code_and_refresh(node_binary: str, server: LiveServer, public: bool) -> None:
    client = add_client(server, *(["--public"] if public else []))
    query, result = run_flow(node_binary, server, client)
    assert set(query) == {"client_id", "request_uri"}  # nothing of the request in the browser's URL
    assert query["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert result["par_endpoint"] == server.url + "/oauth/par"
    assert result["require_par"] is ("--require-par" in server.process.args)  # type: ignore[operator]
    assert result["expires_in"] == 60 and result["rotated"] is True
    assert str(result["token_type"]).lower() == "bearer" and result["scope"] == "read:account write:notes"
    api = add_client(server, "--resource-server")
    checker = (api["client_id"], api["client_secret"])
    assert introspect(server.url, str(result["refreshed_access_token"]), checker)["active"] is True
    assert introspect(server.url, str(result["access_token"]), checker)["active"] is True


def test_an_unpushed_request_is_refused_where_par_is_required(server: LiveServer) -> None:
    client = add_client(server, "--public")
    params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT_URI}
    answer = httpx.get(server.url + "/oauth/authorize", params=params, headers={"accept": "application/json"})
    if "--require-par" in server.process.args:  # type: ignore[operator]
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    else:
        assert answer.status_code in (303, 400)  # PKCE missing: the client's redirect (or signing in) as usual


@pytest.fixture(scope="module")
def dpop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    flags = ["--dpop-nonce", "--require-par"]
    with live_server(tmp_path_factory.mktemp("oauth4webapi-dpop"), flags, user=USER) as running:
        yield running


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_par_dpop_pkce_with_nonces_refresh_and_a_resource_call(
    node_binary: str, dpop_server: LiveServer, public: bool
) -> None:
    server = dpop_server
    client = add_client(server, "--require-dpop", *(["--public"] if public else []))
    query, result = run_flow(node_binary, server, client, DPOP="1", API_URL=server.url + "/api/i")
    assert set(query) == {"client_id", "request_uri"}
    assert result["dpop_algs"] == ["ES256"]
    # the first proof had no nonce: the push was refused with use_dpop_nonce and retried; the handle kept the nonce
    assert result["nonce_retries"] == ["par"]
    assert result["token_type"] == "dpop" and result["refreshed_token_type"] == "dpop"
    assert result["rotated"] is True
    me = result["me"]
    assert isinstance(me, dict) and me["status"] == 200 and me["body"]["username"] == "alice"
    api = add_client(server, "--resource-server")
    checker = (api["client_id"], api["client_secret"])
    for token in (str(result["access_token"]), str(result["refreshed_access_token"])):
        assert introspect(server.url, token, checker)["cnf"] == {"jkt": result["jkt"]}
    stolen = httpx.post(
        server.url + "/api/i", json={}, headers={"Authorization": f"Bearer {result['refreshed_access_token']}"}
    )
    assert stolen.status_code == 401  # a DPoP-bound token is no bearer token
