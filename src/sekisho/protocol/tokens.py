"""Opaque secrets: prefixed so leaks are greppable, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

ACCESS_TOKEN: Final = "sek_at_"
REFRESH_TOKEN: Final = "sek_rt_"
AUTHORIZATION_CODE: Final = "sek_ac_"
CLIENT_SECRET: Final = "sek_cs_"
SESSION: Final = "sek_ss_"
DEVICE_CODE: Final = "sek_dc_"


def new_secret(prefix: str) -> str:
    """A fresh secret of 256 random bits."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 digest that storage keeps instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def digest_matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
