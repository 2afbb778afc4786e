"""sekisho.protocol.tokens: prefixed opaque secrets, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import re

import pytest

from sekisho.protocol import tokens
from sekisho.protocol.tokens import digest, digest_matches, new_secret


@pytest.mark.parametrize(
    ("prefix", "value"),
    [
        (tokens.ACCESS_TOKEN, "sek_at_"),
        (tokens.REFRESH_TOKEN, "sek_rt_"),
        (tokens.AUTHORIZATION_CODE, "sek_ac_"),
        (tokens.CLIENT_SECRET, "sek_cs_"),
        (tokens.SESSION, "sek_ss_"),
    ],
)
def test_prefixes_are_greppable(prefix: str, value: str) -> None:
    assert prefix == value


def test_prefixes_are_distinct() -> None:
    prefixes = [
        tokens.ACCESS_TOKEN,
        tokens.REFRESH_TOKEN,
        tokens.AUTHORIZATION_CODE,
        tokens.CLIENT_SECRET,
        tokens.SESSION,
    ]
    assert len(set(prefixes)) == len(prefixes)


def test_new_secret_has_the_prefix_and_256_random_bits() -> None:
    secret = new_secret(tokens.ACCESS_TOKEN)
    assert secret.startswith("sek_at_")
    body = secret.removeprefix("sek_at_")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body)  # 32 bytes, base64url without padding


def test_new_secrets_differ() -> None:
    secrets = {new_secret(tokens.REFRESH_TOKEN) for _ in range(100)}
    assert len(secrets) == 100


def test_new_secret_is_a_bearer_b64token() -> None:
    from sekisho.protocol.bearer import parse_authorization

    secret = new_secret(tokens.ACCESS_TOKEN)
    assert parse_authorization(f"Bearer {secret}") == secret


def test_digest_is_sha256_hex() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert digest("sek_at_x") == hashlib.sha256(b"sek_at_x").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest(new_secret(tokens.SESSION)))


def test_digest_of_non_ascii_and_lone_surrogate_does_not_raise() -> None:
    assert digest("é") == hashlib.sha256("é".encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest("\ud800"))


def test_digest_matches() -> None:
    secret = new_secret(tokens.CLIENT_SECRET)
    stored = digest(secret)
    assert digest_matches(secret, stored)
    assert not digest_matches(secret + "x", stored)
    assert not digest_matches(secret, digest("other"))
    assert not digest_matches(secret, "")
    assert not digest_matches(secret, stored.upper())
