"""Client credentials in the Authorization header (RFC 6749 §2.3.1)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from sekisho.errors import InvalidClient
from sekisho.protocol.params import has_control_characters


def parse_basic(header: str) -> tuple[str, str] | None:
    """(client_id, client_secret) from `Basic …`, or None for another scheme."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidClient("the Basic credentials are not valid base64") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("the Basic credentials must be client_id:client_secret")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    # Control characters are never part of a client_id or secret (a NUL would even fail PostgreSQL's look-up).
    if has_control_characters(client_id) or has_control_characters(secret):
        raise InvalidClient("the Basic credentials contain control characters")
    return client_id, secret
