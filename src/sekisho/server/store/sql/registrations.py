"""`Registrations` over SQL: initial access tokens, and clients that register themselves."""

from __future__ import annotations

from sekisho.server.entities import Client, RegistrationToken
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database
from sekisho.server.store.sql import rows


class SqlRegistrations:
    """Implements `sekisho.server.store.Registrations`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._read = database.reader()
        self._write = database.writer()

    async def add_token(self, token: RegistrationToken) -> None:
        await self._write.execute(q.INSERT_REGISTRATION_TOKEN, **rows.params(token))

    async def tokens(self) -> list[RegistrationToken]:
        """Every initial access token kept (digests), the oldest first."""
        return [RegistrationToken(*row) for row in await self._read.fetch_all(q.LIST_REGISTRATION_TOKENS)]

    async def remove_token(self, digest: str) -> bool:
        """Delete the token; whether it was there."""
        return await self._write.fetch_one(q.DELETE_REGISTRATION_TOKEN, digest=digest) is not None

    async def token_usable(self, digest: str, now: int) -> bool:
        """Whether the token is known, unexpired and has a use left (nothing is spent)."""
        return await self._read.fetch_one(q.FIND_REGISTRATION_TOKEN, digest=digest, now=now) is not None

    async def register(self, client: Client, token_digest: str | None, now: int) -> bool:
        """Spend one use of the token (when named) and store the client, in one transaction (see `Registrations`)."""
        async with self._database.transaction() as tx:
            if token_digest is not None:
                if await tx.fetch_one(q.SPEND_REGISTRATION_TOKEN, digest=token_digest, now=now) is None:
                    return False
            await tx.execute(q.INSERT_CLIENT, **rows.client_params(client))
            return True
