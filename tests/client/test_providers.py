"""Provider profiles: which endpoints a login uses for sekisho, Misskey (OAuth or MiAuth) and X."""

from __future__ import annotations

import httpx
import pytest

from sekisho.client.errors import ClientError, NoMetadata
from sekisho.client.providers import X_AUTHORIZE, X_REVOKE, X_TOKEN, Endpoints, resolve
from tests.client.conftest import run

METADATA = {
    "issuer": "https://misskey.example",
    "authorization_endpoint": "https://misskey.example/oauth/authorize",
    "token_endpoint": "https://misskey.example/oauth/token",
    "code_challenge_methods_supported": ["S256"],
    "authorization_response_iss_parameter_supported": True,
}


def resolved(provider: str, server: str | None, *, metadata: bool, **options: object) -> Endpoints:
    def answer(request: httpx.Request) -> httpx.Response:
        if metadata and request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=METADATA)
        return httpx.Response(404)

    async def go() -> Endpoints:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            return await resolve(provider, server, http, **options)  # type: ignore[arg-type]

    return run(go())


def test_misskey_with_metadata_uses_oauth_with_url_client_ids_and_iss() -> None:
    endpoints = resolved("misskey", "misskey.example", metadata=True)
    assert not endpoints.miauth and endpoints.accepts_url_client_ids and endpoints.iss_required
    assert endpoints.token_endpoint == "https://misskey.example/oauth/token"
    assert endpoints.api.api_base == "https://misskey.example/api"


def test_misskey_without_metadata_falls_back_to_miauth() -> None:
    endpoints = resolved("misskey", "old-misskey.example", metadata=False)
    assert endpoints.miauth and endpoints.revocation_endpoint is None
    assert endpoints.authorization_endpoint == "https://old-misskey.example/miauth"


def test_miauth_can_be_chosen_and_is_only_for_misskey() -> None:
    assert resolved("misskey", "misskey.example", metadata=True, miauth=True).miauth
    with pytest.raises(ClientError, match="MiAuth"):
        resolved("sekisho", "as.example", metadata=True, miauth=True)


def test_a_sekisho_server_without_metadata_is_refused_not_guessed() -> None:
    with pytest.raises(NoMetadata, match="publishes no OAuth metadata"):
        resolved("sekisho", "as.example", metadata=False)


def test_x_has_built_in_endpoints_and_they_can_be_pointed_at_a_local_server() -> None:
    built_in = resolved("x", None, metadata=False)
    assert (built_in.authorization_endpoint, built_in.token_endpoint) == (X_AUTHORIZE, X_TOKEN)
    assert built_in.revocation_endpoint == X_REVOKE and not built_in.iss_required
    local = resolved(
        "x",
        None,
        metadata=False,
        authorize_url="http://127.0.0.1:8000/oauth/authorize",
        token_url="http://127.0.0.1:8000/oauth/token",
        api_url="http://127.0.0.1:8000",
    )
    assert local.revocation_endpoint == "http://127.0.0.1:8000/oauth/revoke"
    assert local.api.api_base == "http://127.0.0.1:8000" and local.api.dialect == "x"


def test_x_with_a_server_takes_x_paths_on_that_stand_in() -> None:
    # issue 23: `sekisho login http://127.0.0.1:8000 --provider x`, no URL overrides
    local = resolved("x", "http://127.0.0.1:8000", metadata=False)
    assert local.authorization_endpoint == "http://127.0.0.1:8000/i/oauth2/authorize"
    assert local.token_endpoint == "http://127.0.0.1:8000/2/oauth2/token"
    assert local.revocation_endpoint == "http://127.0.0.1:8000/2/oauth2/revoke"
    assert local.api.api_base == local.api.issuer == "http://127.0.0.1:8000" and local.api.dialect == "x"
    assert local.expected_iss is None and not local.iss_required
    moved = resolved("x", "http://127.0.0.1:8000", metadata=False, token_url="http://127.0.0.1:9000/token")
    assert (
        moved.token_endpoint == "http://127.0.0.1:9000/token"
        and moved.revocation_endpoint == "http://127.0.0.1:9000/revoke"
    )


def test_unknown_provider_or_missing_server_is_one_clear_line() -> None:
    with pytest.raises(ClientError, match="unknown provider"):
        resolved("mastodon", "m.example", metadata=False)
    with pytest.raises(ClientError, match="which server"):
        resolved("misskey", None, metadata=False)


def test_only_a_sekisho_login_takes_the_demo_app_its_metadata_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sekisho started with --demo names its demo app; the CLI uses it with no --client-id. A Misskey that said
    the same would not be believed: the member is sekisho's own."""
    monkeypatch.setitem(METADATA, "sekisho_demo_client_id", "sekisho-demo")
    assert resolved("sekisho", "misskey.example", metadata=True).demo_client_id == "sekisho-demo"
    assert resolved("misskey", "misskey.example", metadata=True).demo_client_id is None
    monkeypatch.delitem(METADATA, "sekisho_demo_client_id")
    assert resolved("sekisho", "misskey.example", metadata=True).demo_client_id is None
