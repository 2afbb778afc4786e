"""`Grants` over SQL: codes and tokens, their redemptions and revocations.

On PostgreSQL, lookups, client_credentials tokens and redemptions that arrive together go to the database as one
statement each (store/batch.py); on SQLite, where there is no round trip to save, each is its own statement or
transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from sekisho.server.entities import (
    AccessToken,
    AuthorizationCode,
    Client,
    Grant,
    NewTokens,
    RefreshToken,
    Successors,
    refresh_expiry,
)
from sekisho.server.store import (
    CodeAsk,
    Found,
    Outcome,
    Redeemed,
    RefreshAsk,
    Refused,
    Successor,
    code_refusal,
    refresh_refusal,
)
from sekisho.server.store import queries as q
from sekisho.server.store.batch import Batcher
from sekisho.server.store.driver import Connection, Database, Query, Row
from sekisho.server.store.sql.clients import SqlClients
from sekisho.server.store.sql.rows import arrays, client_checks, params

Redeemable = AuthorizationCode | RefreshToken


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a redemption of codes or of refresh tokens runs (queries: `_inspect`, `_consume`, `_redeem_many`)."""

    inspect: Query
    consume: Query
    many: Query
    make: Callable[..., Redeemable]

    def found(self, row: Row | None) -> tuple[bool, Redeemable | None]:
        """Whether the client is current, and the row found (None when there is none), from (client_current, *row)."""
        if row is None:
            raise RuntimeError("a redemption's read answers whether or not the row exists")
        return bool(row[0]), None if row[1] is None else self.make(*row[1:])


_CODES = _Kind(q.INSPECT_CODE, q.CONSUME_CODE, q.REDEEM_CODES, AuthorizationCode)
_REFRESH_TOKENS = _Kind(q.INSPECT_REFRESH_TOKEN, q.CONSUME_REFRESH_TOKEN, q.ROTATE_REFRESH_TOKENS, RefreshToken)


class SqlGrants:
    """Implements `sekisho.server.store.Grants`; a client a statement finds gone is forgotten by `clients`."""

    def __init__(self, database: Database, clients: SqlClients) -> None:
        self._database = database
        self._clients = clients
        self._read = database.reader()
        self._write = database.writer()
        self._client_tokens: Batcher[dict[str, object], bool] | None = None
        self._lookups: dict[Query, Batcher[dict[str, object], Row | None]] = {}
        self._redemptions: dict[Query, Batcher[dict[str, object], Row | None]] = {}
        if database.dialect == "postgresql":  # SQLite: no round trip to save
            self._client_tokens = self._batch_client_tokens()
            lookups = (q.FIND_ACCESS_TOKENS, q.INSPECT_ACCESS_TOKENS, q.FIND_REFRESH_TOKENS, q.FIND_CODES)
            self._lookups = {query: _batch_rows(query, self._read) for query in lookups}
            redemptions = (q.REDEEM_CODES, q.ROTATE_REFRESH_TOKENS)
            self._redemptions = {query: _batch_rows(query, self._write) for query in redemptions}

    async def issue_code(self, grant: Grant, code: AuthorizationCode) -> None:
        """Persist a new grant and its first code in one transaction."""
        async with self._database.transaction() as tx:
            await tx.execute(q.INSERT_GRANT, **params(grant, last_used_at=None, revoked_at=None))
            await tx.execute(q.INSERT_CODE, **params(code, created_at=grant.created_at))

    async def find_code(self, digest: str) -> AuthorizationCode | None:
        row = await self._find(q.FIND_CODE, q.FIND_CODES, {"digest": digest})
        return AuthorizationCode(*row) if row else None

    async def redeem_code(self, ask: CodeAsk, successor: Successor) -> Outcome:
        """See `Grants`."""
        matched = {
            "client_id": ask.client.client_id,
            "redirect_uri": ask.redirect_uri,
            "code_challenge": ask.code_challenge,
            "jkt": ask.jkt,  # not compared as the others are: see queries._redeem_many
        }
        return await self._redeem(
            _CODES, ask.digest, ask.client, ask.now, matched, successor,
            lambda found, current: code_refusal(ask, cast(AuthorizationCode | None, found), current),
        )  # fmt: skip

    async def issue_client_token(self, token: AccessToken, client: Client) -> bool:
        """client_credentials: persist the token if `client` (perhaps recalled) is still registered with the same
        secret; False, with nothing written and `client` forgotten, if not (queries._issue_client_token)."""
        row = params(token, revoked_at=None) | client_checks(client)
        if self._client_tokens is not None:  # PostgreSQL: with the other tokens being issued
            return self._forget_unless(await self._client_tokens.submit(row), client)
        written = await self._write.fetch_one(q.ISSUE_CLIENT_TOKEN, **row)
        return self._forget_unless(written is not None, client)

    def _batch_client_tokens(self) -> Batcher[dict[str, object], bool]:
        """PostgreSQL: many client_credentials tokens, each with its own checks, in one INSERT (store/batch.py)."""

        async def write(rows: Sequence[dict[str, object]]) -> list[bool]:
            inserted = {digest for (digest,) in await self._write.fetch_all(q.ISSUE_CLIENT_TOKENS, **arrays(rows))}
            return [row["digest"] in inserted for row in rows]

        return Batcher(write)

    def _forget_unless(self, written: bool, client: Client) -> bool:
        """`written`; when not, `client` is forgotten, in case it was removed (see `Clients.recall`)."""
        if not written:
            self._clients.forget(client.client_id)
        return written

    async def find_access_token(self, digest: str, now: int) -> AccessToken | None:
        """The token if it is neither revoked nor expired."""
        row = await self._find(q.FIND_ACCESS_TOKEN, q.FIND_ACCESS_TOKENS, {"digest": digest, "now": now})
        return AccessToken(*row) if row else None

    async def inspect_access_token(self, digest: str, now: int, caller: Client) -> tuple[bool, AccessToken | None]:
        """Whether `caller` (perhaps recalled) is still registered with the same secret, and the token if it is
        neither revoked nor expired, in one statement (queries._inspect_access_token)."""
        found: dict[str, object] = {"digest": digest, "now": now, **client_checks(caller)}
        row = await self._find(q.INSPECT_ACCESS_TOKEN, q.INSPECT_ACCESS_TOKENS, found)
        if row is None:
            raise RuntimeError("an access token's inspection answers whether or not the token exists")
        current = self._forget_unless(bool(row[0]), caller)
        return current, None if row[1] is None else AccessToken(*row[1:])

    async def find_refresh_token(self, digest: str) -> RefreshToken | None:
        row = await self._find(q.FIND_REFRESH_TOKEN, q.FIND_REFRESH_TOKENS, {"digest": digest})
        return RefreshToken(*row) if row else None

    async def inspect_refresh_token(self, digest: str, caller: Client) -> tuple[bool, RefreshToken | None]:
        """Whether `caller` (perhaps recalled) is still registered with the same secret, and the refresh token, in
        one statement (queries._inspect)."""
        row = await self._read.fetch_one(q.INSPECT_REFRESH_TOKEN, digest=digest, **client_checks(caller))
        current, found = _REFRESH_TOKENS.found(row)
        return self._forget_unless(current, caller), cast(RefreshToken | None, found)

    async def _find(self, one: Query, many: Query, found: dict[str, object]) -> Row | None:
        """`one` row; on PostgreSQL, with the other lookups being made at the time (`many`, queries._find_many)."""
        if self._lookups:
            return await self._lookups[many].submit(found)
        return await self._read.fetch_one(one, **found)

    async def rotate_refresh_token(self, ask: RefreshAsk, successor: Successor) -> Outcome:
        """See `Grants`."""
        return await self._redeem(
            _REFRESH_TOKENS, ask.digest, ask.client, ask.now, {"client_id": ask.client.client_id, "jkt": ask.jkt},
            successor,
            lambda found, current: refresh_refusal(ask, cast(RefreshToken | None, found), current),
        )  # fmt: skip

    async def _redeem(
        self,
        kind: _Kind,
        digest: str,
        client: Client,
        now: int,
        matched: Mapping[str, object],
        successor: Successor,
        refusal: Callable[[Redeemable | None, bool], Refused | None],
    ) -> Outcome:
        """Find, check (`refusal`), consume and issue. PostgreSQL: one statement (`kind.many`, with the other
        redemptions being made at the time), which tells a refusal from the row as it was before it; when the
        successors are made from the row, the row is read first. SQLite: the read, the consuming UPDATE and the
        inserts in one transaction."""
        asked = {"digest": digest, "now": now, **matched, **client_checks(client)}
        if self._redemptions:  # PostgreSQL
            drawn = successor.drawn
            if drawn is None:
                current, found = kind.found(await self._read.fetch_one(kind.inspect, **asked))
                if (refused := refusal(found, current)) is not None or found is None:
                    return self._refuse(refused or Refused("unknown"), client)
                drawn = await successor.make(_found(found))
            answer = await self._redemptions[kind.many].submit(asked | params(drawn))
            if answer is None:
                raise RuntimeError("a redemption's statement answers every position")
            won, (current, found) = bool(answer[0]), kind.found(answer[1:])
            if won and found is not None:
                return Redeemed(successor_tokens(client, drawn, now, found))
            # Not consumed though nothing was wrong before: a parallel redemption won it (RFC 6749 §4.1.2).
            refused = refusal(found, current) or Refused("replayed", None if found is None else found.grant_id)
            return self._refuse(refused, client)
        async with self._database.transaction() as tx:
            current, found = kind.found(await tx.fetch_one(kind.inspect, **asked))
            if (refused := refusal(found, current)) is not None or found is None:
                return self._refuse(refused or Refused("unknown"), client)
            drawn = successor.drawn or await successor.make(_found(found))
            await tx.execute(kind.consume, digest=digest, now=now)
            tokens = successor_tokens(client, drawn, now, found)
            await insert_tokens(tx, tokens, now)
            return Redeemed(tokens)

    def _refuse(self, refused: Refused, client: Client) -> Refused:
        """`refused`; a client found gone is forgotten (see `Clients.recall`)."""
        if refused.reason == "client_gone":
            self._clients.forget(client.client_id)
        return refused

    async def revoke_access_token(self, digest: str, now: int) -> None:
        await self._write.execute(q.REVOKE_ACCESS_TOKEN, digest=digest, now=now)

    async def revoke_grant(self, grant_id: str, now: int) -> None:
        """Revoke a grant and every token of its family."""
        async with self._database.transaction() as tx:
            await tx.execute(q.REVOKE_GRANT, grant_id=grant_id, now=now)
            await tx.execute(q.REVOKE_GRANT_ACCESS_TOKENS, grant_id=grant_id, now=now)
            await tx.execute(q.REVOKE_GRANT_REFRESH_TOKENS, grant_id=grant_id, now=now)

    async def list_user_grants(self, user_id: str) -> list[tuple[Grant, int | None]]:
        """The user's grants that are not revoked, oldest first, each with when it last issued a token."""
        rows = await self._read.fetch_all(q.LIST_USER_GRANTS, user_id=user_id)
        return [(Grant(*row[:-1]), row[-1]) for row in rows]


def _batch_rows(query: Query, connection: Connection) -> Batcher[dict[str, object], Row | None]:
    """PostgreSQL: many lookups (or unread redemptions), each with its own checks, in one statement
    (store/batch.py); each gets the row that came back after its position, or None."""

    async def look_up(rows: Sequence[dict[str, object]]) -> list[Row | None]:
        found = {
            row[0]: row[1:]
            for row in await connection.fetch_all(query, position=list(range(len(rows))), **arrays(rows))
        }
        return [found.get(position) for position in range(len(rows))]

    return Batcher(look_up)


def _found(found: Redeemable) -> Found:
    """What successors made from the row are made from."""
    return Found(found.grant_id, found.user_id, found.scope, found.resource)


def successor_tokens(client: Client, successors: Successors, now: int, found: Redeemable | Found) -> NewTokens:
    """The tokens a redemption wrote: `successors`, with the grant, user, scope and resources of the code, refresh
    token or device code consumed (an access token may have a narrower scope and fewer resources; a rotated refresh
    token keeps its absolute expiry)."""
    scope = successors.access_scope or found.scope
    access = AccessToken(
        successors.access_digest,
        found.grant_id,
        client.client_id,
        found.user_id,
        scope,
        successors.access_expires_at,
        now,
        resource=successors.access_resource or found.resource,
        jkt=successors.access_jkt,
    )
    if successors.refresh_digest is None:
        return NewTokens(access, None)
    if isinstance(found, RefreshToken):
        absolute = found.absolute_expires_at
    elif successors.refresh_absolute_expires_at is not None:
        absolute = successors.refresh_absolute_expires_at
    else:
        raise ValueError("the successors of a code carry the new refresh token's absolute expiry")
    refresh = RefreshToken(
        successors.refresh_digest,
        found.grant_id,
        client.client_id,
        found.user_id,
        found.scope,
        refresh_expiry(successors.refresh_expires_at, absolute),
        absolute,
        now,
        resource=found.resource,
        jkt=successors.refresh_jkt,
    )
    return NewTokens(access, refresh)


async def insert_tokens(tx: Connection, tokens: NewTokens, now: int) -> None:
    """Persist what a redemption issued, and mark its grant used."""
    await tx.execute(q.INSERT_ACCESS_TOKEN, **params(tokens.access, revoked_at=None))
    if tokens.refresh is not None:
        await tx.execute(q.INSERT_REFRESH_TOKEN, **params(tokens.refresh))
    if tokens.access.grant_id is not None:
        await tx.execute(q.TOUCH_GRANT, grant_id=tokens.access.grant_id, now=now)
