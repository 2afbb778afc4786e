"""The `Store` over SQLite or PostgreSQL, at driver speed (see driver.py): one part per concern."""

from __future__ import annotations

from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database, open_database
from sekisho.server.store.migrate import is_current, migrate
from sekisho.server.store.sql.clients import SqlClients
from sekisho.server.store.sql.devices import SqlDevices
from sekisho.server.store.sql.registrations import SqlRegistrations
from sekisho.server.store.sql.small import SqlKeys, SqlMiAuth, SqlProofs, SqlPushedRequests, SqlThrottle
from sekisho.server.store.sql.tokens import SqlGrants
from sekisho.server.store.sql.users import SqlUsers


class SqlStore:
    """Implements `sekisho.server.store.Store`; its parts exist once `connect` has opened the database."""

    users: SqlUsers
    clients: SqlClients
    grants: SqlGrants
    throttle: SqlThrottle
    miauth: SqlMiAuth
    keys: SqlKeys
    registrations: SqlRegistrations
    devices: SqlDevices
    pushed_requests: SqlPushedRequests
    proofs: SqlProofs

    def __init__(self, url: str) -> None:
        """A store for `url`; nothing is opened until `connect`."""
        self.url = url
        self.database: Database

    async def connect(self, *, migrate_schema: bool = True) -> None:
        self.database = database = await open_database(self.url)
        try:
            if migrate_schema and not await is_current(database):
                await migrate(self.url)
        except BaseException:
            await database.close()
            raise
        self.users = SqlUsers(database)
        self.clients = SqlClients(database)
        self.grants = SqlGrants(database, self.clients)
        self.throttle = SqlThrottle(database)
        self.miauth = SqlMiAuth(database)
        self.keys = SqlKeys(database)
        self.registrations = SqlRegistrations(database)
        self.devices = SqlDevices(database, self.clients)
        self.pushed_requests = SqlPushedRequests(database)
        self.proofs = SqlProofs(database)

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True) -> SqlStore:
        store = cls(url)
        await store.connect(migrate_schema=migrate_schema)
        return store

    async def close(self) -> None:
        await self.database.close()

    async def purge_batch(self, table: str, *, cutoff: int, now: int, batch: int) -> int:
        """Delete up to `batch` rows of `table` that are past their use (see queries.PURGES); how many went."""
        return len(await self.database.writer().fetch_all(q.PURGES[table], cutoff=cutoff, now=now, batch=batch))

    async def ping(self) -> None:
        """Raises (StoreUnavailable on PostgreSQL) when the database cannot answer (`Database.ping`)."""
        await self.database.ping()
