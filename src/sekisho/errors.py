"""The one errors module: one class per RFC error code.

`description` goes to the client; `detail` goes only to the log.
"""

from __future__ import annotations

import re

# RFC 6749 §5.2 (and RFC 6750 §3): error_description is %x20-21 / %x23-5B / %x5D-7E. A description may quote what
# the client sent (a parameter's name, say); what falls outside becomes "?" (a `"` becomes `'`).
_OUTSIDE_NQSCHAR = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An error with an RFC 6749 §5.2 / §4.1.2.1 / RFC 6750 §3.1 code."""

    error = "server_error"
    status = 400
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, description: str = "", *, detail: str = "", status: int | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.detail = detail
        if status is not None:
            self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = _OUTSIDE_NQSCHAR.sub("?", self.description.replace('"', "'"))
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidRequestUri(OAuthError):
    """RFC 9101 §7 (used by RFC 9126 §4): a request_uri that is unknown, expired, used or another client's."""

    error = "invalid_request_uri"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: a `resource` that is not an absolute URI, has a fragment, or is not allowed."""

    error = "invalid_target"


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5: the user has not decided yet; poll again after the interval."""

    error = "authorization_pending"


class SlowDown(OAuthError):
    """RFC 8628 §3.5: polling too fast; the interval is now 5 seconds longer."""

    error = "slow_down"


class ExpiredToken(OAuthError):
    """RFC 8628 §3.5: the device code expired before the user decided."""

    error = "expired_token"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1."""

    error = "invalid_token"
    status = 401


class InvalidDPoPProof(OAuthError):
    """RFC 9449 §5 and §7.1: the DPoP proof is missing, malformed or does not fit the request."""

    error = "invalid_dpop_proof"


class UseDPoPNonce(OAuthError):
    """RFC 9449 §8 and §9: the server wants a proof carrying the nonce it sends in `DPoP-Nonce`."""

    error = "use_dpop_nonce"
    nonce: str | None = None  # sent as DPoP-Nonce, the nonce the next proof must carry


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1; `scope` names what was missing."""

    error = "insufficient_scope"
    status = 403

    def __init__(self, scope: str, description: str = "") -> None:
        super().__init__(description or f"this request needs the scope {scope}")
        self.scope = scope


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_client_metadata"


class TooManyRequests(OAuthError):
    """Too many requests from one address: 429 with Retry-After (RFC 6585 §4)."""

    error = "too_many_requests"
    status = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class ServerError(OAuthError):
    error = "server_error"
    status = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status = 503
    retry_after = 2  # seconds, sent as Retry-After
