"""The apps a user has connected: their grants gathered by client, and revoking one app entirely."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sekisho.protocol.scopes import split_scope
from sekisho.server.store import Store


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    client_id: str
    name: str
    host: str | None  # the client_id's host, for URL clients
    scope: tuple[str, ...]
    granted_at: int  # the first grant
    last_used_at: int | None  # the last token issued (or refreshed) for it
    grant_ids: tuple[str, ...]


async def list_apps(store: Store, user_id: str) -> list[ConnectedApp]:
    by_client: dict[str, list[tuple[str, str, int, int | None]]] = {}
    for grant, last_used in await store.grants.list_user_grants(user_id):
        by_client.setdefault(grant.client_id, []).append((grant.id, grant.scope, grant.created_at, last_used))
    apps = []
    for client_id, grants in by_client.items():
        scope = tuple(dict.fromkeys(token for _, granted, _, _ in grants for token in split_scope(granted)))
        used = [last for *_, last in grants if last is not None]
        apps.append(
            ConnectedApp(
                client_id=client_id,
                name=await store.clients.app_name(client_id) or client_id,
                host=(urlsplit(client_id).netloc or None) if client_id.startswith(("https://", "http://")) else None,
                scope=scope,
                granted_at=min(created for _, _, created, _ in grants),
                last_used_at=max(used) if used else None,
                grant_ids=tuple(grant_id for grant_id, *_ in grants),
            )
        )
    return apps


async def revoke_app(store: Store, user_id: str, client_id: str, now: int) -> bool:
    """Revoke every grant (and so every token) the user gave this client; False if there was none."""
    grant_ids = [grant.id for grant, _ in await store.grants.list_user_grants(user_id) if grant.client_id == client_id]
    for grant_id in grant_ids:
        await store.grants.revoke_grant(grant_id, now)
    return bool(grant_ids)
