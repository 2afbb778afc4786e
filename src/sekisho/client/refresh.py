"""One refresh across processes: the account's lock, a re-read, and only then the token endpoint (RFC 6749 §6).

Refresh tokens rotate, and reusing a rotated one ends the whole login (RFC 9700 §4.14.2), so two processes must not
both spend the same refresh token: the second one to take the lock finds the first one's tokens and uses them.
"""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from dataclasses import replace

import anyio
import httpx

from sekisho.client import oauth
from sekisho.client.errors import TokenError
from sekisho.client.private_files import FileLock
from sekisho.client.token_store import Account, TokenStore


async def fresh_account(
    store: TokenStore,
    name: str,
    http: httpx.AsyncClient,
    *,
    now: float,
    margin: float = 60,
    force: bool = False,
    rejected: str | None = None,
    nonces: MutableMapping[str, str] | None = None,
) -> Account:
    """The account with an access token good for `margin` seconds more, refreshed (and saved) if need be.

    `force` refreshes even a token that looks good (the server just refused it); with `rejected`, the access token
    it refused, a stored token that differs from it counts as refreshed already by another process. An account
    with a DPoP key refreshes with a proof (RFC 9449 §5), using and updating the servers' `nonces`.
    """
    with anyio.CancelScope(shield=True):  # once acquired, the lock must reach the `finally` below
        lock, account = await anyio.to_thread.run_sync(_lock_and_load, store, name)
    try:
        if not _needs_refresh(account, now=now, margin=margin, force=force, rejected=rejected):
            return account
        if account.token_endpoint is None or account.tokens.refresh_token is None:
            why = "the server refused its access token" if force else "its access token has run out"
            raise TokenError("invalid_grant", f"{why} and login {name} cannot be refreshed; run `sekisho login` again")
        tokens = await oauth.refresh(
            http,
            account.token_endpoint,
            account.credentials,
            account.tokens.refresh_token,
            now=now,
            prover=account.prover(nonces, lambda: now),
        )
        # RFC 6749 §5.1: a response without `scope` has the scope granted before.
        account = replace(account, tokens=tokens if tokens.scope else replace(tokens, scope=account.tokens.scope))
        await anyio.to_thread.run_sync(functools.partial(store.save, account, default=False))
        return account
    finally:
        lock.release()


def can_refresh(account: Account) -> bool:
    return account.token_endpoint is not None and account.tokens.refresh_token is not None


def _needs_refresh(account: Account, *, now: float, margin: float, force: bool, rejected: str | None) -> bool:
    if force:
        return rejected is None or account.tokens.access_token == rejected
    return account.tokens.expires_within(margin, now)


def _lock_and_load(store: TokenStore, name: str) -> tuple[FileLock, Account]:
    """In a worker thread: wait for the lock, then read the file as the last holder left it."""
    lock = store.locked(name)
    lock.acquire()
    try:
        return lock, store.load(name)
    except BaseException:
        lock.release()
        raise
