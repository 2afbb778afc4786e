"""The authorization request and its redirect back: RFC 6749 §4.1, PKCE (RFC 7636), `iss` (RFC 9207); pushed first
to the server when it offers that (RFC 9126), so that the browser's URL carries only a one-time reference."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from sekisho.client import oauth
from sekisho.client.errors import AuthorizationError
from sekisho.client.transport import url_problem
from sekisho.protocol.pkce import s256

VERIFIER_BYTES = 48  # RFC 7636 §7.1: at least 32 random octets; base64url → 64 characters of [A-Za-z0-9-_]
STATE_BYTES = 24
# RFC 6749 §4.1.1 and RFC 7636 §4.3: what `start` itself sets; `extra` may not change them.
OWN_PARAMETERS = frozenset(
    {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}
)
DENIALS = {
    "access_denied": "you denied access (or the server did); run the login again to allow it",
    "invalid_scope": "the server refused the scope asked for; log in again with another --scope",
    "unauthorized_client": "the server does not let this app use the authorization code flow; check its registration",
    "invalid_request": "the server refused the login request; check --client-id and the app's redirect URI",
}


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    url: str
    state: str  # travels in `url` anyway
    code_verifier: str = field(repr=False)
    redirect_uri: str
    client_id: str
    scope: str
    issuer: str | None


def start(
    *,
    authorization_endpoint: str,
    client_id: str,
    redirect_uri: str,
    scope: str,
    issuer: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """A fresh request: PKCE S256 verifier, `state`, and the URL to open in the browser."""
    parameters, verifier, state = _parameters(authorization_endpoint, client_id, redirect_uri, scope, extra)
    url = _with_query(authorization_endpoint, parameters)
    return AuthorizationRequest(url, state, verifier, redirect_uri, client_id, scope, issuer)


async def push(
    http: httpx.AsyncClient,
    *,
    pushed_authorization_request_endpoint: str,
    authorization_endpoint: str,
    credentials: oauth.ClientCredentials,
    redirect_uri: str,
    scope: str,
    issuer: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """A fresh request as `start` makes it, pushed to the server (RFC 9126 §2, the client authenticated as at the
    token endpoint); the URL to open carries only `client_id` and the `request_uri` answered (§4)."""
    client_id = credentials.client_id
    parameters, verifier, state = _parameters(authorization_endpoint, client_id, redirect_uri, scope, extra)
    del parameters["client_id"]  # `apply` adds it for a public client; a confidential one is named by Basic
    body = await oauth.push_request(http, pushed_authorization_request_endpoint, credentials, parameters)
    request_uri = body.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise AuthorizationError("the server's answer to the pushed request has no request_uri; try again later")
    url = _with_query(authorization_endpoint, {"client_id": client_id, "request_uri": request_uri})
    return AuthorizationRequest(url, state, verifier, redirect_uri, client_id, scope, issuer)


def _parameters(
    authorization_endpoint: str, client_id: str, redirect_uri: str, scope: str, extra: Mapping[str, str] | None
) -> tuple[dict[str, str], str, str]:
    """(the request's parameters, its PKCE verifier, its state), fresh."""
    problem = url_problem(authorization_endpoint)
    if problem is not None:
        raise AuthorizationError(f"bad authorization endpoint: {problem}")
    clash = sorted(OWN_PARAMETERS.intersection(extra or {}))
    if clash:
        raise ValueError(f"extra parameters may not set {', '.join(clash)}")
    verifier = secrets.token_urlsafe(VERIFIER_BYTES)
    state = secrets.token_urlsafe(STATE_BYTES)
    parameters = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        **(extra or {}),
    }
    return parameters, verifier, state


def _with_query(endpoint: str, parameters: Mapping[str, str]) -> str:
    parts = urlsplit(endpoint)
    # RFC 6749 §3.1: the endpoint's own query component must be kept.
    query = "&".join(filter(None, [parts.query, urlencode(parameters)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def finish(request: AuthorizationRequest, callback_query: str | Mapping[str, str], *, iss_required: bool) -> str:
    """The `code` of the redirect back, after checking its `iss`, `state` and `error`."""
    answer = parse_callback(callback_query)
    check_iss(request, answer.get("iss"), iss_required=iss_required)
    check_state(request, answer.get("state"))
    error = answer.get("error")
    if error is not None:
        description = answer.get("error_description")
        hint = DENIALS.get(error, "run the login again")
        raise AuthorizationError(f"{hint} ({error}{': ' + description if description else ''})")
    code = answer.get("code")
    if not code:
        raise AuthorizationError("the redirect back from the server carries no code; run the login again")
    return code


def parse_callback(callback_query: str | Mapping[str, str]) -> dict[str, str]:
    if not isinstance(callback_query, str):
        return dict(callback_query)
    parsed = parse_qs(callback_query, keep_blank_values=True)
    # RFC 6749 §3.1: parameters must not be included more than once.
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise AuthorizationError(f"the redirect back repeats {', '.join(repeated)}; run the login again")
    return {name: values[0] for name, values in parsed.items()}


def check_iss(request: AuthorizationRequest, iss: str | None, *, iss_required: bool) -> None:
    """RFC 9207 §2.4: an `iss` must be the expected issuer; absent, it is an error where the server sends one.

    With no issuer to expect (X, which has no metadata) an `iss` is ignored, as §2.4 leaves to local policy.
    """
    if iss is None:
        if iss_required:
            raise AuthorizationError("the redirect back lacks the iss its server always sends; run the login again")
        return
    if request.issuer is not None and iss != request.issuer:
        raise AuthorizationError(
            f"the redirect came from {iss!r}, not {request.issuer!r} (a mix-up attack?); run the login again"
        )


def check_state(request: AuthorizationRequest, state: str | None) -> None:
    """RFC 6749 §10.12: the redirect must carry the `state` of this very request."""
    if state is None or not hmac.compare_digest(state.encode(), request.state.encode()):
        raise AuthorizationError(
            "the redirect's state does not match this login (stale or forged); run the login again"
        )
