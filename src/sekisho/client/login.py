"""One login, start to end: find the server, open the browser, receive the redirect, get tokens, remember them;
with a fresh DPoP key (RFC 9449) where the server offers DPoP, kept with the tokens."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from sekisho.client import authorization, device, dpop, miauth, oauth
from sekisho.client.auth import StaticToken
from sekisho.client.errors import AuthorizationError, ClientError
from sekisho.client.loopback import LoopbackReceiver
from sekisho.client.posting import whoami
from sekisho.client.providers import DEFAULT_SCOPES, Endpoints, resolve
from sekisho.client.token_store import Account, TokenStore


@dataclass(frozen=True, slots=True)
class LoginOptions:
    provider: str = "sekisho"
    server: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    port: int = 0
    account: str | None = None
    timeout: float = 300.0
    authorize_url: str | None = None
    token_url: str | None = None
    api_url: str | None = None
    miauth: bool = False  # Misskey's MiAuth even where the server offers OAuth
    device: bool = False  # RFC 8628: the code is entered on another device's browser
    dpop: bool = True  # RFC 9449: bind the tokens to a key of this login's where the server offers DPoP


APP_NAME = "sekisho CLI"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hooks:
    """How the login talks to the person: a status line, the URL to open, and opening it."""

    say: Callable[[str], None]
    show_url: Callable[[str], None]
    open_browser: Callable[[str], bool] | None  # None: --no-browser
    waiting: Callable[[str], AbstractContextManager[object]] | None = None  # a spinner; None: `say` it once
    show_code: Callable[[device.DeviceAuthorization], None] | None = None  # --device: the code and where to enter it


async def login(options: LoginOptions, store: TokenStore, hooks: Hooks) -> Account:
    async with httpx.AsyncClient(timeout=15, follow_redirects=False) as http:
        endpoints = await resolve(
            options.provider,
            options.server,
            http,
            authorize_url=options.authorize_url,
            token_url=options.token_url,
            api_url=options.api_url,
            miauth=options.miauth,
        )
        scope = options.scope or DEFAULT_SCOPES[options.provider]
        prover = prover_for(options, endpoints)
        if options.device:
            credentials, tokens = await _device(http, endpoints, options, scope, hooks, prover)
        elif endpoints.miauth:
            credentials, tokens = await _miauth(http, endpoints, options, scope, hooks)
        else:
            credentials, tokens = await _oauth(http, endpoints, options, scope, hooks, prover)
        bound = prover if tokens.token_type == "DPoP" else None  # a server may still answer Bearer (RFC 9449 §5)
        me = await whoami(http, endpoints.api, auth=StaticToken(tokens, bound))
    account = Account(
        name=options.account or f"{me.username}@{urlsplit(endpoints.api.issuer).netloc}",
        provider=endpoints.api.provider,
        issuer=endpoints.api.issuer,
        api_base=endpoints.api.api_base,
        token_endpoint=endpoints.token_endpoint if tokens.refresh_token else None,
        revocation_endpoint=endpoints.revocation_endpoint,
        credentials=credentials,
        tokens=tokens,
        username=me.username,
        user_id=me.id,
        dpop_key=None if bound is None else bound.key,
    )
    store.save(account)
    return account


def prover_for(options: LoginOptions, endpoints: Endpoints) -> dpop.Prover | None:
    """A new key's prover where the server offers DPoP with ES256 (and MiAuth is not used), unless turned off."""
    if not options.dpop or endpoints.miauth or not dpop.offered(endpoints.dpop_algorithms):
        return None
    return dpop.Prover(dpop.new_key())


async def _oauth(
    http: httpx.AsyncClient,
    endpoints: Endpoints,
    options: LoginOptions,
    scope: str,
    hooks: Hooks,
    prover: dpop.Prover | None,
) -> tuple[oauth.ClientCredentials, oauth.TokenSet]:
    """Authorization code with PKCE, `state` and RFC 9207 `iss`, received on the loopback listener; with `prover`,
    the code bound to its key by `dpop_jkt` (RFC 9449 §10) and exchanged with a proof."""
    extra = None if prover is None else {"dpop_jkt": prover.jkt}
    async with LoopbackReceiver(options.port, app_name=APP_NAME) as receiver:
        credentials = _credentials(options, endpoints, receiver)
        if credentials.client_id == endpoints.demo_client_id and not options.client_id:
            hooks.say(f"no --client-id: using this demo server's own app, {credentials.client_id}")
        if endpoints.pushed_authorization_request_endpoint is not None:  # RFC 9126: pushed whenever offered
            request = await authorization.push(
                http,
                pushed_authorization_request_endpoint=endpoints.pushed_authorization_request_endpoint,
                authorization_endpoint=endpoints.authorization_endpoint,
                credentials=credentials,
                redirect_uri=receiver.redirect_uri,
                scope=scope,
                issuer=endpoints.expected_iss,
                extra=extra,
            )
        else:
            request = authorization.start(
                authorization_endpoint=endpoints.authorization_endpoint,
                client_id=credentials.client_id,
                redirect_uri=receiver.redirect_uri,
                scope=scope,
                issuer=endpoints.expected_iss,
                extra=extra,
            )
        query = await _browser(request.url, receiver, options.timeout, hooks)
    code = authorization.finish(request, query, iss_required=endpoints.iss_required)
    tokens = await oauth.exchange_code(
        http,
        endpoints.token_endpoint,
        credentials,
        code=code,
        code_verifier=request.code_verifier,
        redirect_uri=request.redirect_uri,
        now=time.time(),
        prover=prover,
    )
    return credentials, tokens


async def _miauth(
    http: httpx.AsyncClient, endpoints: Endpoints, options: LoginOptions, scope: str, hooks: Hooks
) -> tuple[oauth.ClientCredentials, oauth.TokenSet]:
    """MiAuth: the browser comes back with `?session=…`, which must be ours; then the session is checked once."""
    async with LoopbackReceiver(options.port, app_name=APP_NAME) as receiver:
        session = miauth.start(
            endpoints.api.issuer, name=APP_NAME, callback=receiver.redirect_uri, permissions=scope.split()
        )
        query = await _browser(session.url, receiver, options.timeout, hooks)
    came_back = parse_qs(query).get("session", [""])[0]
    if not hmac.compare_digest(came_back.encode(), session.session.encode()):
        raise AuthorizationError("the browser came back from another MiAuth session; run the login again")
    token, _ = await miauth.check(http, endpoints.api.issuer, session)
    return oauth.ClientCredentials(APP_NAME), oauth.TokenSet(access_token=token, scope=scope)


async def _device(
    http: httpx.AsyncClient,
    endpoints: Endpoints,
    options: LoginOptions,
    scope: str,
    hooks: Hooks,
    prover: dpop.Prover | None,
) -> tuple[oauth.ClientCredentials, oauth.TokenSet]:
    """RFC 8628: show the user code and where to enter it, then poll (each poll with a proof from `prover`) until
    the person allows it somewhere."""
    if endpoints.device_authorization_endpoint is None:
        raise ClientError(f"{endpoints.api.issuer} does not offer the device flow (no device_authorization_endpoint)")
    credentials = _device_credentials(options, endpoints)
    if not options.client_id:
        hooks.say(f"no --client-id: using this demo server's own app, {credentials.client_id}")
    started = await device.request_device_code(
        http, endpoints.device_authorization_endpoint, credentials, scope, now=time.time()
    )
    if hooks.show_code is not None:
        hooks.show_code(started)
    else:
        hooks.show_url(started.verification_uri_complete or started.verification_uri)
        hooks.say(f"and enter the code {started.user_code}")
    message = (
        f"waiting for the code to be entered (at most {started.expires_at - time.time():.0f} s; Ctrl-C to give up)…"
    )
    polling = device.poll_for_tokens(http, endpoints.token_endpoint, credentials, started, prover=prover)
    return credentials, await _wait(hooks, message, polling)


def _device_credentials(options: LoginOptions, endpoints: Endpoints) -> oauth.ClientCredentials:
    """A registered app allowed the device grant; else a sekisho demo server's demo app. Never the CLI's own URL
    client id: that page lives on this machine's loopback, which the server (and later refreshes) cannot reach."""
    if options.client_id:
        return oauth.ClientCredentials(options.client_id, options.client_secret)
    if endpoints.demo_client_id:
        return oauth.ClientCredentials(endpoints.demo_client_id)  # the caller says so
    raise ClientError(
        f"{endpoints.api.issuer} needs a registered app for the device flow: pass --client-id of one registered "
        "with --grant-type urn:ietf:params:oauth:grant-type:device_code"
    )


async def _browser(url: str, receiver: LoopbackReceiver, timeout: float, hooks: Hooks) -> str:
    """Show (and open) `url`, then wait for the redirect to the loopback listener; its query string."""
    hooks.show_url(url)
    if hooks.open_browser is not None and not hooks.open_browser(url):
        hooks.say("could not open a browser: open the URL above yourself")
    message = f"waiting for the browser (at most {timeout:.0f} s; Ctrl-C to give up)…"
    return await _wait(hooks, message, receiver.wait(timeout))


async def _wait(hooks: Hooks, message: str, pending: Awaitable[T]) -> T:
    """`pending`, under a spinner saying `message` (or with `message` said once)."""
    if hooks.waiting is None:
        hooks.say(message)
        return await pending
    with hooks.waiting(message):
        return await pending


def _credentials(options: LoginOptions, endpoints: Endpoints, receiver: LoopbackReceiver) -> oauth.ClientCredentials:
    """A registered client; else a sekisho demo server's public demo app (its metadata names it only with --demo);
    else the CLI's own loopback page as a URL client id where the server takes those."""
    if options.client_id:
        return oauth.ClientCredentials(options.client_id, options.client_secret)
    if endpoints.demo_client_id:
        return oauth.ClientCredentials(endpoints.demo_client_id)
    if endpoints.accepts_url_client_ids:
        return oauth.ClientCredentials(receiver.client_id)
    raise ClientError(
        f"{endpoints.api.issuer} needs a registered app: pass --client-id (and --client-secret for a confidential one)"
    )
