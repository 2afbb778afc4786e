"""The token endpoint (RFC 6749 §4.1.3, §6) and revocation (RFC 7009), form-encoded as both RFCs and X ask; token
requests carry a DPoP proof (RFC 9449 §5) when the login has a key."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from urllib.parse import quote_plus

import httpx

from sekisho.client.dpop import Prover
from sekisho.client.errors import TokenError
from sekisho.client.transport import Answer, exchange, url_problem

TIMEOUT: Final = 15.0
HINTS: Final = {
    "invalid_grant": "the code or refresh token is no longer valid; run `sekisho login` again",
    "invalid_client": "the server does not accept this app's id or secret; check --client-id and --client-secret",
    "unauthorized_client": "the server does not let this app use this grant; check the app's registration",
    "invalid_scope": "the server refused the scope; log in again with another --scope",
    "unsupported_token_type": "the server cannot revoke this kind of token; revoke the app in its settings",
    "invalid_dpop_proof": "the server refused this login's DPoP proof; check the clock, or log in again with --no-dpop",
    "use_dpop_nonce": "the server kept asking for a new DPoP nonce; try again",
}
TOKEN_FIELDS: Final = ("access_token", "token_type", "expires_at", "refresh_token", "scope")
LOGIN_ENDED: Final = "this login has ended (the refresh token was revoked or already used); run `sekisho login` again"


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """A confidential client authenticates with HTTP Basic; a public one sends only its `client_id`."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)

    def apply(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """(form, headers) of a request to the token or revocation endpoint (RFC 6749 §2.3.1, §3.2.1)."""
        if self.client_secret is None:
            return {**form, "client_id": self.client_id}, {}
        # RFC 6749 §2.3.1: both parts are form-urlencoded before base64 (X decodes them that way too).
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return form, {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None  # None: the server gave no `expires_in` (Misskey's never expire)
    refresh_token: str | None = field(default=None, repr=False)
    scope: str = ""

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TokenSet:
        """The inverse of `to_json`; `ValueError` names the first field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError("tokens is not an object")
        fields: dict[str, Any] = {name: data.get(name) for name in TOKEN_FIELDS}
        _require(isinstance(fields["access_token"], str) and fields["access_token"] != "", "access_token")
        _require(isinstance(fields["token_type"], str), "token_type")
        _require(fields["expires_at"] is None or _is_number(fields["expires_at"]), "expires_at")
        _require(fields["refresh_token"] is None or isinstance(fields["refresh_token"], str), "refresh_token")
        _require(isinstance(fields["scope"], str), "scope")
        return cls(**fields)


def _require(ok: bool, name: str) -> None:
    if not ok:
        raise ValueError(f"tokens.{name} is missing or of the wrong type")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_token_response(
    body: dict[str, Any], now: float, *, refresh_token: str | None = None, dpop: bool = False
) -> TokenSet:
    """RFC 6749 §5.1; `refresh_token` is kept when the answer brings no new one (§6). `dpop`: the request carried a
    proof, so a DPoP-bound token may come (RFC 9449 §5); without one, only Bearer."""
    access_token, token_type = body.get("access_token"), body.get("token_type", "Bearer")
    expires_in, new_refresh, scope = body.get("expires_in"), body.get("refresh_token"), body.get("scope", "")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)  # some servers send it as a string
    if not (isinstance(access_token, str) and access_token and isinstance(scope, str)):
        raise TokenError("server_error", "the token endpoint's answer lacks an access_token; is this the right server?")
    kind = token_type.lower() if isinstance(token_type, str) else None
    if kind != "bearer" and not (dpop and kind == "dpop"):
        raise TokenError("server_error", f"the server issued a {token_type!r} token; only Bearer tokens are supported")
    if expires_in is not None and not _is_number(expires_in):
        raise TokenError("server_error", "the token endpoint's expires_in is not a number")
    return TokenSet(
        access_token=access_token,
        token_type="DPoP" if kind == "dpop" else "Bearer",
        expires_at=None if expires_in is None else now + expires_in,
        refresh_token=new_refresh if isinstance(new_refresh, str) and new_refresh else refresh_token,
        scope=scope,
    )


async def exchange_code(
    http: httpx.AsyncClient,
    token_endpoint: str,
    credentials: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    now: float,
    prover: Prover | None = None,
) -> TokenSet:
    """RFC 6749 §4.1.3 with RFC 7636 §4.5's `code_verifier`; with `prover`, a DPoP proof (RFC 9449 §5)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    body = await token_request(http, token_endpoint, credentials, {**form, "code_verifier": code_verifier}, prover)
    return parse_token_response(body, now, dpop=prover is not None)


async def refresh(
    http: httpx.AsyncClient,
    token_endpoint: str,
    credentials: ClientCredentials,
    refresh_token: str,
    *,
    now: float,
    scope: str | None = None,
    prover: Prover | None = None,
) -> TokenSet:
    """RFC 6749 §6; a refused refresh token (`invalid_grant`) means the login is over. With `prover`, a DPoP proof
    made with the key the refresh token may be bound to (RFC 9449 §5)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token} | ({"scope": scope} if scope else {})
    try:
        body = await token_request(http, token_endpoint, credentials, form, prover)
    except TokenError as error:
        if error.error == "invalid_grant":
            raise TokenError("invalid_grant", LOGIN_ENDED, description=error.description) from None
        raise
    return parse_token_response(body, now, refresh_token=refresh_token, dpop=prover is not None)


async def revoke(
    http: httpx.AsyncClient,
    revocation_endpoint: str,
    credentials: ClientCredentials,
    token: str,
    *,
    hint: str | None = None,
) -> None:
    """RFC 7009 §2.1; any 200 is success (§2.2), whatever the token was."""
    form = {"token": token} | ({"token_type_hint": hint} if hint else {})
    answer = await _post(http, revocation_endpoint, credentials, form)
    if answer.status != 200:
        _json_object(answer, revocation_endpoint)


async def token_request(
    http: httpx.AsyncClient,
    url: str,
    credentials: ClientCredentials,
    form: dict[str, str],
    prover: Prover | None = None,
) -> dict[str, Any]:
    """POST `form` (with the client's credentials, and a DPoP proof from `prover`) to `url`; its 200 JSON object,
    or raise `TokenError`. A `use_dpop_nonce` refusal with a `DPoP-Nonce` is retried once with it (RFC 9449 §8)."""
    answer = await _post(http, url, credentials, form, prover)
    if prover is not None and prover.remember(url, answer.headers) and _error_of(answer) == "use_dpop_nonce":
        answer = await _post(http, url, credentials, form, prover)
        prover.remember(url, answer.headers)
    return _json_object(answer, url)


async def push_request(
    http: httpx.AsyncClient, url: str, credentials: ClientCredentials, form: dict[str, str]
) -> dict[str, Any]:
    """POST an authorization request (with the client's credentials) to a pushed authorization request endpoint
    (RFC 9126 §2.1); its 201 JSON object (§2.2), or raise `TokenError` (§2.3)."""
    return _json_object(await _post(http, url, credentials, form), url, status=201)


async def _post(
    http: httpx.AsyncClient,
    url: str,
    credentials: ClientCredentials,
    form: dict[str, str],
    prover: Prover | None = None,
) -> Answer:
    problem = url_problem(url)
    if problem is not None:
        raise TokenError("invalid_request", f"will not send credentials there: {problem}")
    data, headers = credentials.apply(form)
    headers = {"Accept": "application/json", **headers}
    if prover is not None:
        headers["DPoP"] = prover.proof("POST", url)
    return await exchange(http, "POST", url, _unavailable, timeout=TIMEOUT, data=data, headers=headers)


def _json_object(answer: Answer, url: str, *, status: int = 200) -> dict[str, Any]:
    """The JSON object of an answer with `status`; an RFC 6749 §5.2 error as `TokenError`; anything else
    `server_error`."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and 400 <= answer.status < 500 and isinstance(body.get("error"), str):
        raise refused(body["error"], body.get("error_description"))
    if answer.status != status or not isinstance(body, dict):
        shape = "" if isinstance(body, dict) else " without a JSON object"
        raise _unavailable(f"{url} answered {answer.status}{shape}; try again later, or check the server address")
    return body


def _error_of(answer: Answer) -> str | None:
    """The `error` of an RFC 6749 §5.2 error response, else None."""
    if answer.status != 400:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def refused(error: str, description: object) -> TokenError:
    """The `TokenError` for an RFC 6749 §5.2 error response."""
    detail = description if isinstance(description, str) and description else None
    hint = HINTS.get(error, "run `sekisho login` again if it persists")
    said = f"{error}: {detail}" if detail else error
    return TokenError(error, f"the server refused ({said}); {hint}", description=detail)


def _unavailable(message: str) -> TokenError:
    return TokenError("server_error", message)
