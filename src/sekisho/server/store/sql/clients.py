"""`Clients` over SQL, with the memory of registrations that `recall` answers from."""

from __future__ import annotations

from collections import OrderedDict

from sekisho.server.client_documents import ClientMetadata
from sekisho.server.entities import Client
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database
from sekisho.server.store.sql import rows

REMEMBERED_CLIENTS = 1000


class SqlClients:
    """Implements `sekisho.server.store.Clients`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._read = database.reader()
        self._write = database.writer()
        self._remembered: OrderedDict[str, Client] = OrderedDict()  # least recently used first

    async def add(self, client: Client) -> None:
        await self._write.execute(q.INSERT_CLIENT, **rows.client_params(client))

    async def find(self, client_id: str) -> Client | None:
        """The registered client, as the database has it now."""
        row = await self._read.fetch_one(q.FIND_CLIENT, client_id=client_id)
        if row is None:
            self.forget(client_id)
            return None
        client = self._remembered[client_id] = rows.client(row)
        if len(self._remembered) > REMEMBERED_CLIENTS:
            self._remembered.popitem(last=False)
        return client

    async def recall(self, client_id: str, secret_digest: str | None) -> Client | None:
        """The registered client, from memory when it is remembered with `secret_digest` (see `Clients`)."""
        known = self._remembered.get(client_id)
        if known is not None and known.secret_digest == secret_digest:
            self._remembered.move_to_end(client_id)
            return known
        return await self.find(client_id)

    def forget(self, client_id: str) -> None:
        """Not remembered any more: a statement found it gone (see `Grants`)."""
        self._remembered.pop(client_id, None)

    async def all(self) -> list[Client]:
        return [rows.client(row) for row in await self._read.fetch_all(q.LIST_CLIENTS)]

    async def remove(self, client_id: str) -> bool:
        """The client and its grants, codes and tokens, in one transaction; False if there was no such client."""
        self.forget(client_id)
        dependents = (
            q.DELETE_CLIENT_CODES,
            q.DELETE_CLIENT_ACCESS_TOKENS,
            q.DELETE_CLIENT_REFRESH_TOKENS,
            q.DELETE_CLIENT_GRANTS,
        )
        return await rows.delete_with_dependents(self._database, dependents, q.DELETE_CLIENT, client_id=client_id)

    async def app_name(self, client_id: str) -> str | None:
        """The name a client goes by: registered, a URL client's page, or a MiAuth app."""
        if client_id.startswith("miauth:"):
            row = await self._read.fetch_one(q.FIND_MIAUTH_NAME, session=client_id.removeprefix("miauth:"))
        else:
            row = await self._read.fetch_one(q.FIND_CLIENT_NAME, client_id=client_id)
            row = row or await self._read.fetch_one(q.FIND_URL_CLIENT_NAME, client_id=client_id)
        return str(row[0]) if row else None

    async def logo(self, client_id: str) -> str | None:
        """A registered client's logo (a data: URL), if it gave one; `find` leaves it out, being large."""
        row = await self._read.fetch_one(q.FIND_CLIENT_LOGO, client_id=client_id)
        return str(row[0]) if row and row[0] is not None else None

    async def find_url_client(self, client_id: str, now: int) -> ClientMetadata | None:
        """What a URL client's page said, while it may still be used (HTTP caching rules)."""
        row = await self._read.fetch_one(q.FIND_URL_CLIENT, client_id=client_id, now=now)
        if row is None:
            return None
        return ClientMetadata(client_id, row[0], tuple(row[1].split()), row[2], row[3])

    async def save_url_client(self, found: ClientMetadata, now: int, expires_at: int) -> None:
        row = rows.params(found, redirect_uris=" ".join(found.redirect_uris), fetched_at=now, expires_at=expires_at)
        await self._write.execute(q.SAVE_URL_CLIENT, **row, logo=found.logo_uri)
