"""`SekishoAuth`: an `httpx.Auth` that sends a saved login's bearer token (RFC 6750 §2.1) and keeps it fresh."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from sekisho.client.refresh import can_refresh, fresh_account
from sekisho.client.token_store import Account, TokenStore


class SekishoAuth(httpx.Auth):
    """For `httpx.AsyncClient(auth=SekishoAuth(store, "alice@misskey.example"))`.

    Refreshes `margin` seconds before expiry, and once after a 401 `invalid_token`, then retries the request once.
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

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("SekishoAuth refreshes tokens asynchronously: use it with httpx.AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        account = self._account
        if account is None or account.tokens.expires_within(self.margin, self.clock()):
            account = await self._fresh()
        response = yield _with_bearer(request, account)
        if response.status_code != 401 or not _invalid_token(response) or not can_refresh(account):
            return
        account = await self._fresh(rejected=account.tokens.access_token)
        yield _with_bearer(request, account)

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
            )
        return self._account


def _with_bearer(request: httpx.Request, account: Account) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {account.tokens.access_token}"
    return request


def _invalid_token(response: httpx.Response) -> bool:
    """RFC 6750 §3.1: a 401 whose challenge names an error other than `invalid_token` is not about the token."""
    challenge = response.headers.get("WWW-Authenticate", "")
    return "error=" not in challenge or 'error="invalid_token"' in challenge
