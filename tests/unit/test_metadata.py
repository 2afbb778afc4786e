"""sekisho.protocol.metadata: authorization server metadata (RFC 8414 §2, CONTRACT.md §2)."""

from __future__ import annotations

import json

import pytest

from sekisho.protocol.metadata import build_metadata

ISSUER = "https://auth.example"


def metadata(issuer: str = ISSUER) -> dict[str, object]:
    return build_metadata(
        issuer, scopes=["read:account", "write:notes"], grant_types=("authorization_code", "refresh_token")
    )


def test_endpoints_derive_from_the_issuer() -> None:
    doc = metadata()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == "https://auth.example/oauth/authorize"
    assert doc["token_endpoint"] == "https://auth.example/oauth/token"
    assert doc["revocation_endpoint"] == "https://auth.example/oauth/revoke"
    assert doc["introspection_endpoint"] == "https://auth.example/oauth/introspect"
    assert doc["service_documentation"] == "https://auth.example/"


def test_issuer_with_a_path() -> None:
    doc = metadata("https://example.com/sekisho")
    assert doc["issuer"] == "https://example.com/sekisho"
    assert doc["token_endpoint"] == "https://example.com/sekisho/oauth/token"


def test_trailing_slash_does_not_double() -> None:
    doc = metadata("https://auth.example/")
    assert doc["issuer"] == "https://auth.example/"
    assert doc["token_endpoint"] == "https://auth.example/oauth/token"


@pytest.mark.parametrize(
    "key",
    [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
        "authorization_response_iss_parameter_supported",
        "service_documentation",
    ],
)
# client_id_metadata_document_supported is advertised only once URL client ids are served.
def test_contract_keys_are_present(key: str) -> None:
    assert key in metadata()


def test_fixed_values() -> None:
    doc = metadata()
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert doc["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]


def test_scopes_and_grant_types_become_lists_in_order() -> None:
    doc = metadata()
    assert doc["scopes_supported"] == ["read:account", "write:notes"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]


def test_accepts_generators() -> None:
    doc = build_metadata(ISSUER, scopes=(s for s in ["a"]), grant_types=iter(["authorization_code"]))
    assert doc["scopes_supported"] == ["a"]
    assert doc["grant_types_supported"] == ["authorization_code"]


def test_is_json_serialisable() -> None:
    assert json.loads(json.dumps(metadata())) == metadata()
