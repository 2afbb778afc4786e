"""User codes of the device authorization grant (RFC 8628 §6.1): 8 letters of an alphabet without vowels or
look-alikes, shown as XXXX-XXXX, entered in any case, with or without the dash or spaces."""

from __future__ import annotations

from typing import Any

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: 20 letters, 20^8 ≈ 2^34.6 codes
USER_CODE_LENGTH = 8
_IGNORED = str.maketrans("", "", "- \t")
_MAX_ENTERED = 64  # anything longer is no user code (and is not worth normalizing)


def normalize_user_code(entered: str) -> str | None:
    """The user code as stored (upper case, no dash, no spaces), or None when `entered` cannot be one."""
    if len(entered) > _MAX_ENTERED:
        return None
    code = entered.translate(_IGNORED).upper()
    if len(code) != USER_CODE_LENGTH or any(letter not in USER_CODE_ALPHABET for letter in code):
        return None
    return code


def show_user_code(code: str) -> str:
    """XXXX-XXXX: easier to read aloud and to type (RFC 8628 §6.1)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def build_device_response(
    issuer: str, device_code: str, user_code: str, *, expires_in: int, interval: int
) -> dict[str, Any]:
    """RFC 8628 §3.2: the device authorization response."""
    verification_uri = f"{issuer.rstrip('/')}/device"
    shown = show_user_code(user_code)
    return {
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": f"{verification_uri}?user_code={shown}",
        "expires_in": expires_in,
        "interval": interval,
    }
