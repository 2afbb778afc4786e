"""MiAuth, Misskey's page-less flow: the user decides on a session; the app redeems it once for a token."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sekisho.errors import InvalidRequest, OAuthError
from sekisho.protocol import redirects
from sekisho.protocol.scopes import check_scope, join_scope
from sekisho.server.entities import Grant, MiAuthSession, NewTokens, User
from sekisho.server.ids import new_id
from sekisho.server.settings import Settings
from sekisho.server.store import Store
from sekisho.server.token import mint_opaque

# Misskey's session ids are UUIDs; a short one could be guessed and redeemed by someone else first.
_SESSION = re.compile(r"[A-Za-z0-9_-]{16,128}")
DECISION_TTL = 10 * 60  # the app must check within this time
TOKEN_TTL = 10 * 365 * 24 * 3600  # Misskey's tokens do not expire; the user revokes them


@dataclass(frozen=True, slots=True)
class MiAuthRequest:
    session: str
    name: str
    callback: str | None
    scope: tuple[str, ...]


def user_json(user: User) -> dict[str, Any]:
    """The user as Misskey's `check` answers with it (the shape of its /api/i)."""
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(user.created_at))
    return {"id": user.id, "username": user.username, "name": user.username, "host": None, "createdAt": created}


def check_request(session: str, params: Mapping[str, str], known_scopes: Mapping[str, str]) -> MiAuthRequest:
    if not _SESSION.fullmatch(session):
        raise InvalidRequest("the MiAuth session id must be 16-128 letters, digits, - or _ (a UUID is usual)")
    name = " ".join(params.get("name", "").split())[:100] or "An app without a name"
    callback = params.get("callback")
    if callback is not None:
        check_callback(callback)
    # MiAuth lists permissions with commas; OAuth scopes use spaces.
    scope = check_scope(params.get("permission", "").replace(",", " ") or None, known=known_scopes, allowed=None)
    return MiAuthRequest(session, name, callback, scope)


def check_callback(callback: str) -> None:
    """Never a javascript:, data:, file: … callback, nor one with userinfo (the browser is sent there)."""
    try:
        redirects.check_registrable(callback)  # absolute, no fragment, no dangerous scheme, no userinfo
    except OAuthError as exc:
        raise InvalidRequest(f"callback: {exc.description}") from exc


async def decide(store: Store, request: MiAuthRequest, user: User, *, allowed: bool, now: int) -> None:
    decision = MiAuthSession(
        session=request.session,
        user_id=user.id,
        name=request.name,
        scope=join_scope(request.scope),
        allowed=1 if allowed else 0,
        created_at=now,
        expires_at=now + DECISION_TTL,
    )
    if not await store.miauth.record(decision):
        raise InvalidRequest("this MiAuth session was already decided; the app must start a new one")


async def redeem(store: Store, settings: Settings, session: str, now: int) -> tuple[str, str] | None:
    """(user_id, access token) for an allowed session, exactly once; None otherwise."""
    if not _SESSION.fullmatch(session):
        return None

    def records(user_id: str, name: str, scope: str) -> tuple[Grant, NewTokens]:
        grant = Grant(
            id=new_id(now * 1000), user_id=user_id, client_id=f"miauth:{session}", scope=scope, created_at=now
        )
        minted = mint_opaque(
            settings, grant_id=grant.id, client_id=grant.client_id, user_id=user_id, scope=scope, now=now, ttl=TOKEN_TTL
        )
        tokens_by_session[session] = minted.access_token
        return grant, minted.records

    tokens_by_session: dict[str, str] = {}
    redeemed = await store.miauth.redeem(session, now, records)
    if redeemed is None:
        return None
    return redeemed[0], tokens_by_session[session]
