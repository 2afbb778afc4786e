"""Authorization server metadata (RFC 8414 §2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sekisho.protocol import dpop

# sekisho's own metadata member, present only on a server started with --demo: the client_id of its public demo app,
# which a CLI given no client id may use (RFC 8414 §2: members not defined there are allowed).
DEMO_CLIENT_METADATA = "sekisho_demo_client_id"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4


def build_metadata(
    issuer: str,
    *,
    scopes: Iterable[str],
    grant_types: Iterable[str],
    jwt_access_tokens: bool = False,
    registration: bool = False,
    require_par: bool = False,
) -> dict[str, Any]:
    """The metadata document; `registration`: /oauth/register is served (RFC 7591), and so advertised;
    `device_authorization_endpoint` (RFC 8628 §4) only when the device grant is among `grant_types`;
    `require_par`: every authorization request must be pushed (RFC 9126 §5)."""
    base = issuer.rstrip("/")
    grant_types = list(grant_types)
    extra = {"jwks_uri": f"{base}/oauth/jwks"} if jwt_access_tokens else {}
    if registration:
        extra["registration_endpoint"] = f"{base}/oauth/register"
    if DEVICE_CODE_GRANT in grant_types:
        extra["device_authorization_endpoint"] = f"{base}/oauth/device_authorization"
    return extra | {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "pushed_authorization_request_endpoint": f"{base}/oauth/par",
        "require_pushed_authorization_requests": require_par,
        "scopes_supported": list(scopes),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),  # RFC 9449 §5.1: the token endpoint takes DPoP
        "client_id_metadata_document_supported": True,
        "service_documentation": f"{base}/",
    }
