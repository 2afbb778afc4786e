"""`sekisho.client` against a real OAuth server nobody here wrote: node's `oidc-provider` 9 on 127.0.0.1.

Discovery (falling back to OpenID Connect discovery under a path issuer), the authorization request with PKCE and
RFC 9207 `iss`, oidc-provider's own login and consent pages driven over real HTTP, the code exchange, userinfo with
the access token, refresh (rotated for the public client), and revocation, for a public client (client_id in the
body) and a confidential one (HTTP Basic with an id and secret that need form-urlencoding). Only the browser's part
and the userinfo call are plain httpx; everything a client app does goes through the library.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sekisho.client import authorization, oauth
from sekisho.client.discovery import ServerMetadata, discover, issuer_from
from sekisho.client.errors import AuthorizationError, DiscoveryError, TokenError
from tests.interop.conftest import MOUNT_PATH, OidcProvider, RegisteredClient, sign_in

pytestmark = pytest.mark.e2e

# `offline_access` with `prompt=consent` is how an OpenID provider is asked for a refresh token (OpenID Connect
# Core §11); oidc-provider drops `offline_access` from a request without `prompt=consent`. `profile` is there so
# userinfo shows a claim the consent granted.
SCOPE = "openid offline_access profile"
EXTRA = {"prompt": "consent"}
ACCESS_TOKEN_TTL = 600  # ttl.AccessToken in provider.mjs


def credentials_of(client: RegisteredClient) -> oauth.ClientCredentials:
    return oauth.ClientCredentials(client.client_id, client.client_secret)


async def openid_configuration(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """The provider's own discovery document, read without the library, to compare against."""
    response = await http.get(issuer + "/.well-known/openid-configuration")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


async def userinfo(http: httpx.AsyncClient, endpoint: str, access_token: str) -> httpx.Response:
    return await http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})


def start(metadata: ServerMetadata, client: RegisteredClient) -> authorization.AuthorizationRequest:
    """The authorization request every test here sends: PKCE, state, the test's scope and prompt."""
    return authorization.start(
        authorization_endpoint=metadata.authorization_endpoint,
        client_id=client.client_id,
        redirect_uri=client.redirect_uri,
        scope=SCOPE,
        issuer=metadata.issuer,
        extra=EXTRA,
    )


async def authorize(
    provider: OidcProvider, metadata: ServerMetadata, client: RegisteredClient, *, login: str
) -> tuple[authorization.AuthorizationRequest, str]:
    """start() → oidc-provider's login and consent pages → finish(); (the request, the code)."""
    request = start(metadata, client)
    sent = {name: values[0] for name, values in parse_qs(urlsplit(request.url).query).items()}
    assert request.url.startswith(metadata.authorization_endpoint + "?")
    assert sent["response_type"] == "code"
    assert sent["client_id"] == client.client_id
    assert sent["redirect_uri"] == client.redirect_uri
    assert sent["scope"] == SCOPE
    assert sent["state"] == request.state
    assert sent["code_challenge_method"] == "S256"
    assert sent["prompt"] == "consent"
    async with httpx.AsyncClient(timeout=10) as browser:  # a fresh browser: no session with the provider yet
        signed_in = await sign_in(browser, request.url, redirect_uri=client.redirect_uri, login=login)
    assert signed_in.pages == ["login", "consent"]
    query = urlsplit(signed_in.callback).query
    assert parse_qs(query)["iss"] == [provider.issuer]  # RFC 9207, which oidc-provider always sends for a code
    code = authorization.finish(request, query, iss_required=metadata.authorization_response_iss_parameter_supported)
    return request, code


def test_discovery_falls_back_to_openid_configuration(oidc_provider: OidcProvider) -> None:
    async def check() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            # The RFC 8414 path-aware URL for a path issuer is not served; OpenID Connect discovery is.
            origin = oidc_provider.issuer.removesuffix(MOUNT_PATH)
            rfc8414 = await http.get(origin + "/.well-known/oauth-authorization-server" + MOUNT_PATH)
            assert rfc8414.status_code == 404
            document = await openid_configuration(http, oidc_provider.issuer)

            metadata = await discover(oidc_provider.issuer, http)

        assert metadata.issuer == oidc_provider.issuer == document["issuer"]
        assert metadata.authorization_endpoint == document["authorization_endpoint"]
        assert metadata.token_endpoint == document["token_endpoint"]
        assert metadata.revocation_endpoint == document["revocation_endpoint"]
        assert metadata.introspection_endpoint is None  # introspection is not enabled in provider.mjs
        assert metadata.code_challenge_methods_supported == ("S256",)
        assert metadata.authorization_response_iss_parameter_supported is True
        assert {"openid", "offline_access", "profile"} <= set(metadata.scopes_supported)
        assert {"authorization_code", "refresh_token"} <= set(metadata.grant_types_supported)
        assert metadata.client_id_metadata_document_supported is False

    assert issuer_from(oidc_provider.issuer) == oidc_provider.issuer  # http is fine on loopback
    asyncio.run(check())


def test_discovery_refuses_a_document_for_another_issuer(oidc_provider: OidcProvider) -> None:
    """The same server reached as `localhost`: its document names 127.0.0.1, so it is not this issuer's."""
    other = oidc_provider.issuer.replace("://127.0.0.1:", "://localhost:")

    async def check() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            # It was reached (not a connection failure) and refused for naming 127.0.0.1 (RFC 8414 §3.3).
            with pytest.raises(DiscoveryError, match=re.escape(oidc_provider.issuer)):
                await discover(other, http)

    asyncio.run(check())


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_login_refresh_and_revoke(oidc_provider: OidcProvider, kind: str) -> None:
    client = oidc_provider.public if kind == "public" else oidc_provider.confidential
    credentials = credentials_of(client)
    login = f"{kind}-user"

    async def flow() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            metadata = await discover(oidc_provider.issuer, http)
            assert metadata.revocation_endpoint is not None
            userinfo_endpoint = (await openid_configuration(http, oidc_provider.issuer))["userinfo_endpoint"]
            request, code = await authorize(oidc_provider, metadata, client, login=login)

            before = time.time()
            tokens = await oauth.exchange_code(
                http,
                metadata.token_endpoint,
                credentials,
                code=code,
                code_verifier=request.code_verifier,
                redirect_uri=request.redirect_uri,
                now=before,
            )
            assert tokens.token_type.lower() == "bearer"
            assert tokens.refresh_token, "no refresh token: offline_access was not granted"
            assert set(tokens.scope.split()) == set(SCOPE.split())
            assert tokens.expires_at == pytest.approx(before + ACCESS_TOKEN_TTL, abs=5)
            assert not tokens.expires_within(60, before)
            assert oauth.TokenSet.from_json(tokens.to_json()) == tokens
            me = await userinfo(http, userinfo_endpoint, tokens.access_token)
            assert me.status_code == 200, me.text
            assert me.json() == {"sub": login, "name": f"Interop {login}"}

            refreshed = await oauth.refresh(
                http, metadata.token_endpoint, credentials, tokens.refresh_token, now=time.time()
            )
            assert refreshed.access_token != tokens.access_token
            assert refreshed.refresh_token
            if kind == "public":
                # oidc-provider rotates a public client's refresh token on every use (rotateRefreshToken)...
                assert refreshed.refresh_token != tokens.refresh_token
            else:
                # ...and keeps a confidential client's until 70 % of its lifetime has passed.
                assert refreshed.refresh_token == tokens.refresh_token
            me = await userinfo(http, userinfo_endpoint, refreshed.access_token)
            assert me.status_code == 200, me.text
            assert me.json()["sub"] == login

            await oauth.revoke(
                http, metadata.revocation_endpoint, credentials, refreshed.refresh_token, hint="refresh_token"
            )
            with pytest.raises(TokenError) as revoked:
                await oauth.refresh(
                    http, metadata.token_endpoint, credentials, refreshed.refresh_token, now=time.time()
                )
            assert revoked.value.error == "invalid_grant"
            # Revoking the refresh token ends the whole grant (oidc-provider's revokeGrantPolicy), access token too.
            after = await userinfo(http, userinfo_endpoint, refreshed.access_token)
            assert after.status_code == 401, after.text
            # RFC 7009 §2.2: revoking a token that is already invalid is still a success.
            await oauth.revoke(http, metadata.revocation_endpoint, credentials, refreshed.refresh_token)

    asyncio.run(flow())


def test_a_reused_code_is_refused_and_ends_the_grant(oidc_provider: OidcProvider) -> None:
    """RFC 6749 §4.1.2: a code used twice is refused, and oidc-provider revokes what the first use issued."""
    client = oidc_provider.public
    credentials = credentials_of(client)

    async def flow() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            metadata = await discover(oidc_provider.issuer, http)
            request, code = await authorize(oidc_provider, metadata, client, login="twice")
            exchange = {"code": code, "code_verifier": request.code_verifier, "redirect_uri": request.redirect_uri}
            tokens = await oauth.exchange_code(http, metadata.token_endpoint, credentials, **exchange, now=time.time())
            assert tokens.refresh_token
            with pytest.raises(TokenError) as reused:
                await oauth.exchange_code(http, metadata.token_endpoint, credentials, **exchange, now=time.time())
            assert reused.value.error == "invalid_grant"
            with pytest.raises(TokenError) as ended:
                await oauth.refresh(http, metadata.token_endpoint, credentials, tokens.refresh_token, now=time.time())
            assert ended.value.error == "invalid_grant"

    asyncio.run(flow())


def test_denied_consent_is_an_authorization_error(oidc_provider: OidcProvider) -> None:
    client = oidc_provider.public

    async def flow() -> None:
        async with httpx.AsyncClient(timeout=10) as http, httpx.AsyncClient(timeout=10) as browser:
            metadata = await discover(oidc_provider.issuer, http)
            request = start(metadata, client)
            signed_in = await sign_in(
                browser, request.url, redirect_uri=client.redirect_uri, login="no-thanks", cancel_at="consent"
            )
        query = urlsplit(signed_in.callback).query
        assert parse_qs(query)["error"] == ["access_denied"]
        with pytest.raises(AuthorizationError, match="denied"):
            authorization.finish(request, query, iss_required=True)

    asyncio.run(flow())


def test_token_endpoint_errors_are_token_errors(oidc_provider: OidcProvider) -> None:
    confidential = oidc_provider.confidential

    async def flow() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            metadata = await discover(oidc_provider.issuer, http)
            with pytest.raises(TokenError) as unknown_code:
                await oauth.exchange_code(
                    http,
                    metadata.token_endpoint,
                    credentials_of(confidential),
                    code="not-a-code",
                    code_verifier="v" * 43,
                    redirect_uri=confidential.redirect_uri,
                    now=time.time(),
                )
            assert unknown_code.value.error == "invalid_grant"

            wrong_secret = oauth.ClientCredentials(confidential.client_id, "not the secret")
            with pytest.raises(TokenError) as unauthenticated:
                await oauth.refresh(http, metadata.token_endpoint, wrong_secret, "not-a-refresh-token", now=time.time())
            assert unauthenticated.value.error == "invalid_client"

    asyncio.run(flow())
