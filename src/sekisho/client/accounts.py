"""What one does with a saved login: post, ask who one is, get a fresh token, log out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from sekisho.client import oauth
from sekisho.client.auth import SekishoAuth
from sekisho.client.errors import ClientError
from sekisho.client.oauth import TokenSet
from sekisho.client.posting import Me, Posted, post, whoami
from sekisho.client.providers import Api
from sekisho.client.refresh import fresh_account
from sekisho.client.token_store import Account, TokenStore


def pick(store: TokenStore, name: str | None) -> Account:
    """The named account, or the default one."""
    return store.load(name) if name else store.default()


def api_of(account: Account) -> Api:
    return Api(account.provider, account.issuer, account.api_base)


@asynccontextmanager
async def authorized(store: TokenStore, account: Account) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that sends the account's token and refreshes it when it runs out."""
    async with httpx.AsyncClient(auth=SekishoAuth(store, account.name), timeout=15) as http:
        yield http


async def post_text(store: TokenStore, name: str | None, text: str) -> tuple[Account, Posted]:
    account = pick(store, name)
    async with authorized(store, account) as http:
        return account, await post(http, api_of(account), text, account.username)


async def who(store: TokenStore, name: str | None) -> tuple[Account, Me]:
    account = pick(store, name)
    async with authorized(store, account) as http:
        return account, await whoami(http, api_of(account))


async def access_token(store: TokenStore, name: str | None) -> TokenSet:
    """Tokens good for at least a minute more, refreshed first if need be (one refresh across processes)."""
    account = pick(store, name)
    async with httpx.AsyncClient(timeout=15) as http:
        fresh = await fresh_account(store, account.name, http, now=time.time())
    return fresh.tokens


async def logout(store: TokenStore, name: str | None) -> tuple[Account, str | None]:
    """Revoke at the server where it can (the refresh token ends the whole grant), then forget the account.

    Returns the account and, when the server could not be told, why.
    """
    account = pick(store, name)
    problem = None
    if account.revocation_endpoint is None:
        problem = "the server has no revocation endpoint; revoke the app in its settings"
    else:
        async with httpx.AsyncClient(timeout=15) as http:
            try:
                for token, hint in (
                    (account.tokens.refresh_token, "refresh_token"),
                    (account.tokens.access_token, "access_token"),
                ):
                    if token:
                        await oauth.revoke(http, account.revocation_endpoint, account.credentials, token, hint=hint)
            except ClientError as error:
                problem = str(error)
    store.remove(account.name)
    return account, problem
