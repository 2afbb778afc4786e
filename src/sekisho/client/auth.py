"""`SekishoAuth`: an `httpx.Auth` that sends a saved login's token and keeps it fresh: as a bearer token (RFC 6750
§2.1), or, for a DPoP-bound one, as `Authorization: DPoP` with a proof of the account's key (RFC 9449 §7.1)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from sekisho.client.dpop import Prover
from sekisho.client.oauth import TokenSet
from sekisho.client.refresh import can_refresh, fresh_account
from sekisho.client.token_store import Account, TokenStore

_ERROR = re.compile(r'error\s*=\s*"?([A-Za-z0-9_]+)')


class SekishoAuth(httpx.Auth):
    """For `httpx.AsyncClient(auth=SekishoAuth(store, "alice@misskey.example"))`.

    Refreshes `margin` seconds before expiry, and once after a 401 `invalid_token`, then retries the request once;
    a DPoP `use_dpop_nonce` challenge is answered once with a proof carrying the server's nonce (RFC 9449 §9).
    `token_http` sends the refresh requests (default: a short-lived client of its own).
    """

    def __init__(
        self,
        store: TokenStore,
        account_name: str,
        *,
        margin: float = 60,
        clock: Callable[[], float] = time.time,
        token_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.account_name = account_name
        self.margin = margin
        self.clock = clock
        self._token_http = token_http
        self._account: Account | None = None
        self._nonces: dict[str, str] = {}  # by server: the last DPoP-Nonce each gave, resource and token endpoint

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("SekishoAuth refreshes tokens asynchronously: use it with httpx.AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        account = self._account
        if account is None or account.tokens.expires_within(self.margin, self.clock()):
            account = await self._fresh()
        prover = account.prover(self._nonces, self.clock)
        response = yield present(request, account.tokens, prover)
        if wants_nonce(request, response, prover):
            response = yield present(request, account.tokens, prover)
        if response.status_code != 401 or not _invalid_token(response) or not can_refresh(account):
            return
        account = await self._fresh(rejected=account.tokens.access_token)
        prover = account.prover(self._nonces, self.clock)
        response = yield present(request, account.tokens, prover)
        if wants_nonce(request, response, prover):
            yield present(request, account.tokens, prover)

    async def _fresh(self, *, rejected: str | None = None) -> Account:
        async with contextlib.AsyncExitStack() as stack:
            http = self._token_http
            if http is None:
                http = await stack.enter_async_context(httpx.AsyncClient())
            self._account = await fresh_account(
                self.store,
                self.account_name,
                http,
                now=self.clock(),
                margin=self.margin,
                force=rejected is not None,
                rejected=rejected,
                nonces=self._nonces,
            )
        return self._account


class StaticToken(httpx.Auth):
    """Tokens used as they are (the first call after a login), Bearer or DPoP; `SekishoAuth` is the one that
    refreshes."""

    def __init__(self, tokens: TokenSet, prover: Prover | None = None) -> None:
        self._tokens = tokens
        self._prover = prover

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield present(request, self._tokens, self._prover)
        if wants_nonce(request, response, self._prover):
            yield present(request, self._tokens, self._prover)


def present(request: httpx.Request, tokens: TokenSet, prover: Prover | None) -> httpx.Request:
    """`request` with the access token: `DPoP <token>` and a fresh proof with its `ath` (RFC 9449 §7.1) for a
    DPoP-bound token, else `Bearer <token>`."""
    token = tokens.access_token
    if prover is not None and tokens.token_type.lower() == "dpop":
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = prover.proof(request.method, str(request.url), access_token=token)
    else:
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers.pop("DPoP", None)
    return request


def wants_nonce(request: httpx.Request, response: httpx.Response, prover: Prover | None) -> bool:
    """Whether to send `request` again: its answer is RFC 9449 §9's 401 `use_dpop_nonce` with a `DPoP-Nonce` (which
    `prover` keeps; a nonce on any other answer is kept for the next request)."""
    if prover is None or not prover.remember(str(request.url), response.headers):
        return False
    return response.status_code == 401 and challenge_error(response, "dpop") == "use_dpop_nonce"


def challenge_error(response: httpx.Response, scheme: str) -> str | None:
    """The `error` of the `scheme` challenge in a response's WWW-Authenticate header, if any (one challenge per
    scheme; a Bearer and a DPoP one may share the header, RFC 9449 §7.1)."""
    header = response.headers.get("WWW-Authenticate", "")
    at = re.search(rf"(?:^|,)\s*{scheme}\b", header, re.IGNORECASE)
    if at is None:
        return None
    rest = header[at.end() :]
    following = re.search(r",\s*(?:Bearer|DPoP|Basic)\b", rest, re.IGNORECASE)
    found = _ERROR.search(rest[: following.start()] if following else rest)
    return None if found is None else found.group(1)


def _invalid_token(response: httpx.Response) -> bool:
    """RFC 6750 §3.1: a 401 whose challenge names an error other than `invalid_token` is not about the token."""
    challenge = response.headers.get("WWW-Authenticate", "")
    return "error=" not in challenge or 'error="invalid_token"' in challenge
