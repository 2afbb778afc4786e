"""Finding a server: issuer_from, RFC 8414 metadata (path-aware URL, OIDC fallback, §3.3 issuer check), and limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from sekisho.client import transport
from sekisho.client.discovery import ServerMetadata, discover, issuer_from, metadata_urls
from sekisho.client.errors import DiscoveryError
from tests.client.conftest import metadata, run
from tests.live import LiveServer, free_port

ISSUER = "https://as.example"


def document(issuer: str = ISSUER, **changes: Any) -> dict[str, Any]:
    base = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "code_challenge_methods_supported": ["S256"],
    }
    return {key: value for key, value in (base | changes).items() if value is not None}


def served(pages: dict[str, httpx.Response], seen: list[str] | None = None) -> httpx.AsyncClient:
    """A client whose every request is answered from `pages` by URL (404 elsewhere)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(str(request.url))
        return pages.get(str(request.url), httpx.Response(404))

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def found(issuer: str, pages: dict[str, httpx.Response], seen: list[str] | None = None) -> ServerMetadata:
    async def go() -> ServerMetadata:
        async with served(pages, seen) as http:
            return await discover(issuer, http)

    return run(go())


def refused(issuer: str, pages: dict[str, httpx.Response]) -> str:
    with pytest.raises(DiscoveryError) as caught:
        found(issuer, pages)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("typed", "issuer"),
    [
        ("misskey.example", "https://misskey.example"),
        ("  Misskey.Example/ ", "https://misskey.example"),
        ("https://as.example/tenant/", "https://as.example/tenant"),
        ("https://as.example:8443", "https://as.example:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_issuer_from(typed: str, issuer: str) -> None:
    assert issuer_from(typed) == issuer


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("http://misskey.example", "plain http"),
        ("ftp://misskey.example", "https"),
        ("https://as.example/?tenant=1", "query"),
        ("https://user@as.example", "user@"),
        ("https://as.example/#top", "fragment"),
        ("", "which server"),
        ("https://as.example:99999", "not a valid URL"),
    ],
)
def test_issuer_from_refuses(typed: str, why: str) -> None:
    with pytest.raises(DiscoveryError, match=why):
        issuer_from(typed)


def test_metadata_urls_are_path_aware() -> None:
    # RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    assert metadata_urls("https://h/t") == (
        "https://h/.well-known/oauth-authorization-server/t",
        "https://h/t/.well-known/openid-configuration",
    )
    assert metadata_urls("https://h") == (
        "https://h/.well-known/oauth-authorization-server",
        "https://h/.well-known/openid-configuration",
    )


def test_a_path_issuer_is_found_at_the_path_aware_url() -> None:
    issuer = "https://as.example/tenant"
    seen: list[str] = []
    pages = {
        "https://as.example/.well-known/oauth-authorization-server/tenant": httpx.Response(200, json=document(issuer))
    }
    assert found(issuer, pages, seen).issuer == issuer
    assert seen == ["https://as.example/.well-known/oauth-authorization-server/tenant"]


def test_falls_back_to_openid_configuration() -> None:
    issuer = "https://as.example/oidc"
    pages = {"https://as.example/oidc/.well-known/openid-configuration": httpx.Response(200, json=document(issuer))}
    assert found(issuer, pages).token_endpoint == "https://as.example/oidc/oauth/token"


def test_an_html_page_at_the_first_url_is_not_metadata() -> None:
    pages = {
        f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(200, html="<!doctype html><p>an app</p>"),
        f"{ISSUER}/.well-known/openid-configuration": httpx.Response(200, json=document()),
    }
    assert found(ISSUER, pages).issuer == ISSUER


def test_every_field_is_read() -> None:
    full = document(
        revocation_endpoint=f"{ISSUER}/oauth/revoke",
        introspection_endpoint=f"{ISSUER}/oauth/introspect",
        scopes_supported=["read:account", "write:notes"],
        grant_types_supported=["authorization_code", "refresh_token"],
        authorization_response_iss_parameter_supported=True,
        client_id_metadata_document_supported=True,
    )
    assert ServerMetadata.from_document(full, ISSUER) == ServerMetadata(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/oauth/authorize",
        token_endpoint=f"{ISSUER}/oauth/token",
        revocation_endpoint=f"{ISSUER}/oauth/revoke",
        introspection_endpoint=f"{ISSUER}/oauth/introspect",
        scopes_supported=("read:account", "write:notes"),
        grant_types_supported=("authorization_code", "refresh_token"),
        code_challenge_methods_supported=("S256",),
        authorization_response_iss_parameter_supported=True,
        client_id_metadata_document_supported=True,
    )


def test_the_pushed_request_endpoint_is_read() -> None:
    """RFC 9126 §5: the endpoint, which the login then always uses, required or not."""
    par = f"{ISSUER}/oauth/par"
    for required in (False, True):
        changes = {"pushed_authorization_request_endpoint": par, "require_pushed_authorization_requests": required}
        metadata = ServerMetadata.from_document(document(**changes), ISSUER)
        assert metadata.pushed_authorization_request_endpoint == par


def test_defaults_for_what_a_document_leaves_out() -> None:
    bare = ServerMetadata.from_document(document(code_challenge_methods_supported=None), ISSUER)
    assert bare.grant_types_supported == ("authorization_code",)
    assert bare.revocation_endpoint is None and bare.code_challenge_methods_supported == ()
    assert not bare.authorization_response_iss_parameter_supported


def test_an_issuer_mismatch_is_refused() -> None:
    # RFC 8414 §3.3: the document of another issuer must not be used (no fallback to the next URL either).
    pages = {
        f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(200, json=document("https://evil.example")),
        f"{ISSUER}/.well-known/openid-configuration": httpx.Response(200, json=document()),
    }
    message = refused(ISSUER, pages)
    assert "'https://evil.example'" in message and "exact issuer URL" in message


def test_a_server_without_s256_is_refused() -> None:
    pages = {
        f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(
            200, json=document(code_challenge_methods_supported=["plain"])
        )
    }
    assert "S256" in refused(ISSUER, pages)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"token_endpoint": None}, "has no token_endpoint"),
        ({"authorization_endpoint": 7}, "bad authorization_endpoint"),
        ({"token_endpoint": "http://as.example/oauth/token"}, "plain http"),
        ({"scopes_supported": "read write"}, "not a list of strings"),
        ({"pushed_authorization_request_endpoint": "http://as.example/oauth/par"}, "plain http"),
        ({"require_pushed_authorization_requests": True}, "requires pushed authorization requests"),
    ],
)
def test_a_bad_document_is_refused(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(DiscoveryError, match=why):
        ServerMetadata.from_document(document(**changes), ISSUER)


@pytest.mark.parametrize("body", [[], "metadata", None])
def test_a_document_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(DiscoveryError, match="not a JSON object"):
        ServerMetadata.from_document(body, ISSUER)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404),
        httpx.Response(500, json={"error": "oops"}),
        httpx.Response(200, content=b"{not json"),
        httpx.Response(302, headers={"Location": "https://elsewhere.example/metadata"}),
    ],
)
def test_no_metadata_anywhere(answer: httpx.Response) -> None:
    pages = {f"{ISSUER}/.well-known/oauth-authorization-server": answer}
    message = refused(ISSUER, pages)
    assert message.startswith(f"{ISSUER} publishes no OAuth metadata (")
    assert f"{ISSUER}/.well-known/openid-configuration answered 404" in message


def test_an_oversized_document_is_cut_off() -> None:
    huge = json.dumps(document(padding="x" * transport.MAX_BODY)).encode()
    pages = {f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(200, content=huge)}
    assert "answered more than 1024 KiB" in refused(ISSUER, pages)


def failing(error: Callable[[httpx.Request], Exception]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (lambda request: httpx.ConnectError("refused", request=request), "could not reach"),
        (lambda request: httpx.ReadTimeout("slow", request=request), "could not reach"),
    ],
)
def test_network_failures_are_discovery_errors(error: Callable[[httpx.Request], Exception], said: str) -> None:
    async def go() -> None:
        async with failing(error) as http:
            await discover(ISSUER, http)

    with pytest.raises(DiscoveryError, match=said):
        run(go())


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "TIMEOUT", 0.2)

    async def go() -> None:
        async def hang(request: httpx.Request) -> httpx.Response:
            await anyio.sleep(10)
            raise AssertionError("not reached")

        async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
            await discover(ISSUER, http)

    with pytest.raises(DiscoveryError, match="did not answer within 0.2 s"):
        run(go())


@pytest.mark.e2e
def test_a_closed_port_is_one_discovery_error() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            await discover(f"http://127.0.0.1:{free_port()}", http)

    with pytest.raises(DiscoveryError, match="could not reach .*ConnectError.*server up"):
        run(go())


@pytest.mark.e2e
def test_sekisho_serve_metadata(server: LiveServer) -> None:
    found = metadata(server)
    assert found.issuer == server.url
    assert found.token_endpoint == server.url + "/oauth/token"
    assert found.revocation_endpoint == server.url + "/oauth/revoke"
    assert found.code_challenge_methods_supported == ("S256",)
    assert found.authorization_response_iss_parameter_supported
    assert found.client_id_metadata_document_supported
    assert "refresh_token" in found.grant_types_supported


@pytest.mark.parametrize(
    ("value", "kept"),
    [("sekisho-demo", "sekisho-demo"), (None, None), (7, None), ("", None), ("a b\n", None), ("x" * 256, None)],
)
def test_a_demo_servers_app_is_read_only_when_it_is_a_plain_client_id(value: object, kept: str | None) -> None:
    assert ServerMetadata.from_document(document(sekisho_demo_client_id=value), ISSUER).demo_client_id == kept
