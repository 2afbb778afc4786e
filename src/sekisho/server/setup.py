"""What `sekisho serve` does once before it takes requests: migrate, seed the demo, say how to begin."""

from __future__ import annotations

import secrets
import time

from sekisho.protocol.metadata import DEVICE_CODE_GRANT
from sekisho.server import passwords
from sekisho.server.accounts import create_user
from sekisho.server.entities import Client
from sekisho.server.settings import Settings
from sekisho.server.store.sql import SqlStore

DEMO_CLIENT_ID = "sekisho-demo"
DEMO_USERNAME = "demo"
# The demo app takes the device grant too, so `sekisho login --device` works against `serve --demo` as it is.
DEMO_GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE_GRANT)


async def prepare(settings: Settings) -> list[str]:
    """Migrate the schema and seed the demo; returns lines to show the operator."""
    store = await SqlStore.open(settings.database)
    try:
        lines: list[str] = []
        if settings.demo:
            lines += await seed_demo(store, settings)
        elif await store.users.count() == 0:
            lines.append("No users yet. Create one with:  sekisho user add alice")
        return lines
    finally:
        await store.close()


async def seed_demo(store: SqlStore, settings: Settings) -> list[str]:
    """The demo user and the demo app. The demo user's password is made once per database and kept in it (as a
    server secret, in clear: it is a demo account), so a restart of the same database prints the same password."""
    now = int(time.time())
    password = await store.keys.server_secret("demo_password", secrets.token_urlsafe(12), now)
    user = await store.users.find_by_name(DEMO_USERNAME)
    if user is None:
        await create_user(store, DEMO_USERNAME, password, now)
    elif not await passwords.verify_password(user.password_hash, password):
        await store.users.set_password(user.id, await passwords.hash_password(password))
    redirect_uris = (f"{settings.issuer}/demo/callback", "http://127.0.0.1/callback")
    client = await store.clients.find(DEMO_CLIENT_ID)
    if client is None or client.redirect_uris != redirect_uris or client.grant_types != DEMO_GRANT_TYPES:
        if client is not None:
            await store.clients.remove(DEMO_CLIENT_ID)
        await store.clients.add(
            Client(
                client_id=DEMO_CLIENT_ID,
                name="sekisho demo app",
                redirect_uris=redirect_uris,
                grant_types=DEMO_GRANT_TYPES,
                scopes=None,
                secret_digest=None,
                created_at=now,
            )
        )
    issuer = settings.issuer
    return [
        "",
        "  sekisho demo",
        f"  Open        {issuer}/  (sign in, then 'Try the flow')",
        f"  Demo user   {DEMO_USERNAME}",
        f"  Password    {password}  (kept in this database: the same at every start)",
        "",
    ]
