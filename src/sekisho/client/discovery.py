"""Authorization server metadata (RFC 8414), with the OpenID Connect discovery URL as a fallback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from sekisho.client.errors import DiscoveryError, NoMetadata
from sekisho.client.transport import exchange, url_problem
from sekisho.protocol.metadata import DEMO_CLIENT_METADATA

RFC8414_PATH = "/.well-known/oauth-authorization-server"
OIDC_PATH = "/.well-known/openid-configuration"


def issuer_from(server: str) -> str:
    """The issuer URL for what a person typed: a host name means https; `http://` only for loopback hosts."""
    text = server.strip()
    if not text:
        raise DiscoveryError("which server? give a host name such as misskey.example, or its https URL")
    if "://" not in text:
        text = "https://" + text
    problem = url_problem(text)
    if problem is not None:
        raise DiscoveryError(problem)
    parts = urlsplit(text)
    # RFC 8414 §2: the issuer is an https URL with no query or fragment.
    if parts.query or parts.username is not None:
        raise DiscoveryError(f"{server!r} is not a server address: leave out the ?query and any user@")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def metadata_urls(issuer: str) -> tuple[str, str]:
    """RFC 8414 §3.1 (the well-known part goes before the issuer's path), then OIDC Discovery §4."""
    parts = urlsplit(issuer)
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, RFC8414_PATH + parts.path.rstrip("/"), "", ""))
    return rfc8414, issuer.rstrip("/") + OIDC_PATH


@dataclass(frozen=True, slots=True)
class ServerMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    device_authorization_endpoint: str | None = None  # RFC 8628 §4
    pushed_authorization_request_endpoint: str | None = None  # RFC 9126 §5
    scopes_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ("authorization_code",)
    code_challenge_methods_supported: tuple[str, ...] = ()
    authorization_response_iss_parameter_supported: bool = False
    client_id_metadata_document_supported: bool = False
    dpop_signing_alg_values_supported: tuple[str, ...] = ()  # RFC 9449 §5.1: DPoP offered with these algorithms
    demo_client_id: str | None = None  # sekisho with --demo: its public demo app (DEMO_CLIENT_METADATA)

    @classmethod
    def from_document(cls, document: Any, expected_issuer: str) -> ServerMetadata:
        """Parse an RFC 8414 §2 document; `DiscoveryError` if it is not one, or not `expected_issuer`'s."""
        if not isinstance(document, dict):
            raise DiscoveryError(f"the metadata of {expected_issuer} is not a JSON object; is this an OAuth server?")
        # RFC 8414 §3.3: the issuer in the document must be identical to the one asked for.
        if document.get("issuer") != expected_issuer:
            raise DiscoveryError(
                f"the metadata found for {expected_issuer} names the issuer {_show(document.get('issuer'))}: "
                "give the server's exact issuer URL"
            )
        methods = _strings(document, "code_challenge_methods_supported", ())
        # RFC 7636 §4.2 and RFC 9700 §2.1.1: PKCE with S256, never plain.
        if methods and "S256" not in methods:
            raise DiscoveryError(f"{expected_issuer} does not offer PKCE with S256, so logging in there is not safe")
        pushed = _optional_endpoint(document, "pushed_authorization_request_endpoint")
        if document.get("require_pushed_authorization_requests") is True and pushed is None:
            raise DiscoveryError(f"{expected_issuer} requires pushed authorization requests but names no endpoint")
        return cls(
            issuer=expected_issuer,
            authorization_endpoint=_endpoint(document, "authorization_endpoint"),
            token_endpoint=_endpoint(document, "token_endpoint"),
            revocation_endpoint=_optional_endpoint(document, "revocation_endpoint"),
            introspection_endpoint=_optional_endpoint(document, "introspection_endpoint"),
            device_authorization_endpoint=_optional_endpoint(document, "device_authorization_endpoint"),
            pushed_authorization_request_endpoint=pushed,
            scopes_supported=_strings(document, "scopes_supported", ()),
            grant_types_supported=_strings(document, "grant_types_supported", ("authorization_code",)),
            code_challenge_methods_supported=methods,
            authorization_response_iss_parameter_supported=document.get(
                "authorization_response_iss_parameter_supported"
            )
            is True,
            client_id_metadata_document_supported=document.get("client_id_metadata_document_supported") is True,
            dpop_signing_alg_values_supported=_strings(document, "dpop_signing_alg_values_supported", ()),
            demo_client_id=_client_id(document.get(DEMO_CLIENT_METADATA)),
        )


async def discover(issuer: str, http: httpx.AsyncClient) -> ServerMetadata:
    """The metadata of `issuer` (from `issuer_from`); a document elsewhere than the first URL is tried next."""
    tried = []
    for url in metadata_urls(issuer):
        answer = await exchange(http, "GET", url, DiscoveryError, headers={"Accept": "application/json"})
        if answer.status != 200:
            tried.append(f"{url} answered {answer.status}")
            continue
        try:
            document = answer.json()
        except ValueError:
            tried.append(f"{url} is not JSON")
            continue
        return ServerMetadata.from_document(document, issuer)
    raise NoMetadata(
        f"{issuer} publishes no OAuth metadata ({'; '.join(tried)}): is it an OAuth 2.0 server, at this address?"
    )


def _endpoint(document: dict[str, Any], name: str) -> str:
    url = _optional_endpoint(document, name)
    if url is None:
        raise DiscoveryError(f"the metadata of {document['issuer']} has no {name}; it cannot be logged in to")
    return url


def _optional_endpoint(document: dict[str, Any], name: str) -> str | None:
    url = document.get(name)
    if url is None:
        return None
    problem = url_problem(url) if isinstance(url, str) else f"{_show(url)} is not a URL"
    if problem is not None:
        raise DiscoveryError(f"the metadata of {document['issuer']} has a bad {name}: {problem}")
    return str(url)


def _strings(document: dict[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DiscoveryError(f"the metadata of {document['issuer']} has a {name} that is not a list of strings")
    return tuple(value)


def _client_id(value: object) -> str | None:
    """A demo client id worth using: a short string of visible ASCII (RFC 6749 §A.1: VSCHAR), else None."""
    if isinstance(value, str) and 0 < len(value) <= 255 and all("\x20" <= c <= "\x7e" for c in value):
        return value
    return None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
