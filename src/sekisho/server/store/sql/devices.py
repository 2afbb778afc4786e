"""`Devices` over SQL: RFC 8628 device codes, each poll and each decision one transaction."""

from __future__ import annotations

from sekisho.server.entities import DeviceCode, DeviceStatus, Grant
from sekisho.server.store import (
    SLOW_DOWN_STEP,
    DeviceAsk,
    Found,
    Outcome,
    Redeemed,
    Refused,
    Successor,
    device_refusal,
)
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Connection, Database, Row
from sekisho.server.store.sql.clients import SqlClients
from sekisho.server.store.sql.rows import client_checks, params
from sekisho.server.store.sql.tokens import insert_tokens, successor_tokens


class SqlDevices:
    """Implements `sekisho.server.store.Devices`; a client a poll finds gone is forgotten by `clients`."""

    def __init__(self, database: Database, clients: SqlClients) -> None:
        self._database = database
        self._clients = clients
        self._read = database.reader()

    async def add(self, device: DeviceCode, now: int) -> bool:
        """Store a new device code; False when a live row holds its user code (draw another)."""
        async with self._database.transaction() as tx:
            await tx.execute(q.FREE_USER_CODE, user_code=device.user_code, now=now)
            if await tx.fetch_one(q.FIND_DEVICE_CODE, user_code=device.user_code) is not None:
                return False
            await tx.execute(q.INSERT_DEVICE_CODE, **params(device))
            return True

    async def find(self, user_code: str) -> DeviceCode | None:
        """The row of `user_code` (normalized), whatever its status and expiry."""
        return _device(await self._read.fetch_one(q.FIND_DEVICE_CODE, user_code=user_code))

    async def decide(self, user_code: str, now: int, grant: Grant | None) -> bool:
        """Approve (with `grant`, stored in the same transaction) or deny (None) a pending, unexpired code."""
        status: DeviceStatus = "denied" if grant is None else "approved"
        async with self._database.transaction() as tx:
            decided = await tx.fetch_one(
                q.DECIDE_DEVICE_CODE,
                user_code=user_code,
                now=now,
                status=status,
                user_id=None if grant is None else grant.user_id,
                grant_id=None if grant is None else grant.id,
            )
            if decided is not None and grant is not None:
                await tx.execute(q.INSERT_GRANT, **params(grant, last_used_at=None, revoked_at=None))
            return decided is not None

    async def poll(self, ask: DeviceAsk, successor: Successor) -> Outcome:
        """See `Devices`."""
        checks = client_checks(ask.client)
        async with self._database.transaction() as tx:
            row = await tx.fetch_one(q.LOCK_DEVICE_CODE, digest=ask.digest, **checks)
            current = bool(row[0]) if row is not None else await _client_current(tx, checks)
            device = None if row is None else _device(row[1:])
            refused = device_refusal(ask, device, current)
            if refused is not None or device is None:
                return await self._refused(tx, refused or Refused("unknown"), ask, device)
            if device.grant_id is None or device.user_id is None:
                raise RuntimeError("an approved device code names its grant and user")
            found = Found(device.grant_id, device.user_id, device.scope, device.resource)
            drawn = successor.drawn or await successor.make(found)
            if await tx.fetch_one(q.CONSUME_DEVICE_CODE, digest=ask.digest, now=ask.now) is None:
                return Refused("denied")  # its grant was revoked (the app, at /settings/apps) before this poll
            tokens = successor_tokens(ask.client, drawn, ask.now, found)
            await insert_tokens(tx, tokens, ask.now)
            return Redeemed(tokens)

    async def _refused(self, tx: Connection, refused: Refused, ask: DeviceAsk, device: DeviceCode | None) -> Refused:
        """`refused`; a pending code records this poll (RFC 8628 §3.5: slow_down raises its interval), and a client
        found gone is forgotten (see `Clients.recall`)."""
        if device is not None and refused.reason in ("pending", "slow_down"):
            step = SLOW_DOWN_STEP if refused.reason == "slow_down" else 0
            await tx.execute(q.RECORD_DEVICE_POLL, digest=ask.digest, now=ask.now, interval=device.interval + step)
        if refused.reason == "client_gone":
            self._clients.forget(ask.client.client_id)
        return refused


async def _client_current(tx: Connection, checks: dict[str, str | None]) -> bool:
    row = await tx.fetch_one(q.CLIENT_CURRENT, **checks)
    return row is not None and bool(row[0])


def _device(row: Row | None) -> DeviceCode | None:
    return None if row is None else DeviceCode(*row)
