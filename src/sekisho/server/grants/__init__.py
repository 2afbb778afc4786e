"""Token endpoint grants: a plain dict from grant_type to handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sekisho.protocol.params import TokenRequest
from sekisho.server.dialects import SEKISHO, OAuthDialect
from sekisho.server.entities import Client
from sekisho.server.settings import Settings
from sekisho.server.signing_keys import Signer
from sekisho.server.store import Store
from sekisho.server.token import Minted


@dataclass(frozen=True, slots=True)
class GrantContext:
    store: Store
    settings: Settings
    now: int
    signer: Signer | None = None  # set when access tokens are JWTs
    dialect: OAuthDialect = SEKISHO  # X's paths: two-hour tokens, refresh only with offline.access
    jkt: str | None = None  # RFC 9449: the thumbprint of the request's checked DPoP proof key; None: no proof


Handler = Callable[[TokenRequest, Client, GrantContext], Awaitable[Minted]]


def _handlers() -> dict[str, Handler]:
    from sekisho.server.grants import authorization_code, client_credentials, device_code, refresh_token

    return {
        "authorization_code": authorization_code.exchange,
        "refresh_token": refresh_token.refresh,
        "client_credentials": client_credentials.issue,
        device_code.GRANT_TYPE: device_code.exchange,
    }


HANDLERS: dict[str, Handler] = _handlers()
