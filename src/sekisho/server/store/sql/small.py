"""`Throttle`, `MiAuth`, `Keys`, `PushedRequests` and `Proofs` over SQL: each a few statements."""

from __future__ import annotations

from collections.abc import Callable

from sekisho.server.entities import (
    Grant,
    LoginAttempts,
    MiAuthSession,
    NewTokens,
    PushedRequest,
    Reservation,
    SigningKey,
)
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database
from sekisho.server.store.sql.rows import params
from sekisho.server.store.sql.tokens import insert_tokens

MiAuthMint = Callable[[str, str, str], tuple[Grant, NewTokens]]  # (user_id, app name, scope) → records


class SqlThrottle:
    """Implements `sekisho.server.store.Throttle`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def reserve(
        self, user_key: str, addr_key: str, now: int, decide: Callable[[LoginAttempts, LoginAttempts], Reservation]
    ) -> Reservation:
        """Lock both keys' rows, let `decide` judge the attempt from them, and store the rows it returns, in one
        transaction: parallel attempts (from any process on the database) are judged one after another."""
        async with self._database.transaction() as tx:
            await tx.execute(q.ENSURE_THROTTLE, key=user_key, now=now)
            await tx.execute(q.ENSURE_THROTTLE, key=addr_key, now=now)
            found = {
                row[0]: LoginAttempts(int(row[1]), int(row[2]), int(row[3]))
                for row in await tx.fetch_all(q.LOCK_THROTTLES, user_key=user_key, addr_key=addr_key)
            }
            reservation = decide(found[user_key], found[addr_key])
            for key, row in ((user_key, reservation.account), (addr_key, reservation.address)):
                if row is not None:
                    await tx.execute(
                        q.UPDATE_THROTTLE,
                        key=key,
                        failures=row.failures,
                        now=row.last_at,
                        blocked_until=row.blocked_until,
                    )
            return reservation

    async def forgive(self, user_key: str, addr_key: str) -> None:
        """A verified password: the account's attempts are forgotten, and the address's count loses this one (its
        row goes when none are left)."""
        async with self._database.transaction() as tx:
            await tx.execute(q.DELETE_THROTTLE, key=user_key)
            await tx.execute(q.FORGIVE_THROTTLE, key=addr_key)
            await tx.execute(q.DELETE_SPENT_THROTTLE, key=addr_key)  # no row is kept for an address with none


class SqlMiAuth:
    """Implements `sekisho.server.store.MiAuth`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, session: MiAuthSession) -> bool:
        """Store the user's decision for a session; False if that session was decided before."""
        async with self._database.transaction() as tx:
            if await tx.fetch_one(q.FIND_MIAUTH, session=session.session) is not None:
                return False
            await tx.execute(q.INSERT_MIAUTH, **params(session), consumed_at=None)
            return True

    async def redeem(self, session: str, now: int, mint: MiAuthMint) -> tuple[str, NewTokens] | None:
        """Consume an allowed session and persist the token `mint` makes for it, once; else None."""
        async with self._database.transaction() as tx:
            row = await tx.fetch_one(q.CONSUME_MIAUTH, session=session, now=now)
            if row is None:
                return None
            grant, tokens = mint(str(row[0]), str(row[1]), str(row[2]))
            await tx.execute(q.INSERT_GRANT, **params(grant, last_used_at=None, revoked_at=None))
            await insert_tokens(tx, tokens, now)
            return str(row[0]), tokens


class SqlKeys:
    """Implements `sekisho.server.store.Keys`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._read = database.reader()
        self._write = database.writer()

    async def server_secret(self, name: str, candidate: str, now: int) -> str:
        """The secret stored under `name`; the first caller's candidate wins."""
        row = await self._read.fetch_one(q.FIND_SECRET, name=name)
        if row is None:
            try:
                async with self._database.transaction() as tx:
                    await tx.execute(q.INSERT_SECRET, name=name, value=candidate, created_at=now)
            except Exception:  # another worker inserted it first: read theirs below
                pass
            row = await self._read.fetch_one(q.FIND_SECRET, name=name)
        if row is None:
            raise RuntimeError(f"could not store the server secret {name!r}")
        return str(row[0])

    async def list_signing_keys(self) -> list[SigningKey]:
        return [SigningKey(*row) for row in await self._read.fetch_all(q.LIST_SIGNING_KEYS)]

    async def add_signing_key(self, key: SigningKey, *, retire_others: bool) -> None:
        async with self._database.transaction() as tx:
            await tx.execute(q.INSERT_SIGNING_KEY, **params(key))
            if retire_others:
                await tx.execute(q.RETIRE_SIGNING_KEYS, kid=key.kid, now=key.created_at)

    async def delete_signing_keys_retired_before(self, before: int) -> None:
        await self._write.execute(q.DELETE_SIGNING_KEYS_RETIRED_BEFORE, before=before)


class SqlPushedRequests:
    """Implements `sekisho.server.store.PushedRequests`: a take is one DELETE … RETURNING, so single use holds
    across connections and servers."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._read = database.reader()

    async def add(self, pushed: PushedRequest) -> None:
        await self._database.writer().execute(q.INSERT_PUSHED_REQUEST, **params(pushed))

    async def find(self, digest: str, client_id: str, now: int) -> str | None:
        row = await self._read.fetch_one(q.FIND_PUSHED_REQUEST, digest=digest, client_id=client_id, now=now)
        return None if row is None else str(row[0])

    async def take(self, digest: str, client_id: str, now: int) -> str | None:
        row = await self._database.writer().fetch_one(
            q.TAKE_PUSHED_REQUEST, digest=digest, client_id=client_id, now=now
        )
        return None if row is None else str(row[0])


class SqlProofs:
    """Implements `sekisho.server.store.Proofs`: one INSERT … ON CONFLICT DO NOTHING; the primary key decides."""

    def __init__(self, database: Database) -> None:
        self._write = database.writer()

    async def use(self, digest: str, expires_at: int) -> bool:
        return await self._write.fetch_one(q.USE_DPOP_PROOF, digest=digest, expires_at=expires_at) is not None
