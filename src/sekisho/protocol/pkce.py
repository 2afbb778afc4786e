"""PKCE, S256 only (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sekisho.errors import InvalidGrant, InvalidRequest

# RFC 7636 §4.1: code-verifier = 43*128unreserved
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# The S256 challenge is BASE64URL(SHA256(verifier)) without padding: exactly 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str | None, method: str | None, *, any_case: bool = False) -> str:
    """Return the challenge of an authorization request, or raise. `any_case`: the method's name is compared
    case-insensitively (X's dialect: X takes `s256`, which twitter-api-v2 sends)."""
    if challenge is None:
        raise InvalidRequest("code_challenge is required (PKCE with S256)")
    if method is not None and method.lower() == "plain":
        # RFC 9700 §2.1.1: a challenge the verifier equals protects nothing once the request is seen; X takes it.
        raise InvalidRequest("code_challenge_method plain is not allowed (RFC 9700 section 2.1.1): use S256")
    # RFC 7636 §4.3: a missing method means "plain", which this server refuses.
    if method != "S256" and not (any_case and method is not None and method.upper() == "S256"):
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be 43 base64url characters (S256)")
    return challenge


def challenge_of(verifier: str | None) -> str | None:
    """The S256 challenge of a well-formed verifier; None for a missing or malformed one (`check_verifier` says
    what is wrong with it)."""
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return None
    return s256(verifier)


def check_verifier(verifier: str | None, challenge: str) -> None:
    """RFC 7636 §4.6: the verifier must hash to the challenge bound to the code."""
    if verifier is None:
        raise InvalidRequest("code_verifier is required")
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidRequest("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
