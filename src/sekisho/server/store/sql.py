"""The `Store` over SQLite or PostgreSQL, at driver speed (see driver.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

from sekisho.protocol import client_ids
from sekisho.server.client_documents import ClientMetadata
from sekisho.server.entities import (
    AccessToken,
    AuthorizationCode,
    Client,
    Grant,
    LoginAttempts,
    MiAuthSession,
    NewTokens,
    RefreshToken,
    Reservation,
    SigningKey,
    Successors,
    User,
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
from sekisho.server.store.driver import Connection, Database, Query, Row, open_database
from sekisho.server.store.migrate import is_current, migrate

REMEMBERED_CLIENTS = 1000
MiAuthMint = Callable[[str, str, str], tuple[Grant, NewTokens]]  # (user_id, app name, scope) → records


def _row(record: object, **extra: object) -> dict[str, object]:
    """A record's fields as statement parameters (column names match field names), plus `extra`."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = _FIELD_NAMES[type(record)] = tuple(field.name for field in fields(record))  # type: ignore[arg-type]
    return {name: getattr(record, name) for name in names} | extra


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclasses.fields() builds a tuple per call: once per record type


def _arrays(rows: Sequence[Mapping[str, object]]) -> dict[str, list[object]]:
    """A batch's rows as one list per parameter, for a statement over `unnest` of arrays (queries._batch); a
    parameter the statement does not name (a check it does not make) is not sent (driver.Query.arguments)."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def _client_checks(client: Client) -> dict[str, str | None]:
    """The parameters of the check a statement makes of a client the caller may have from memory
    (queries._client_current): a URL client is nowhere to be removed from, so has nothing to check."""
    registered_id = None if client_ids.is_url(client.client_id) else client.client_id
    return {"registered_id": registered_id, "secret_digest": client.secret_digest}


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


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], username=row[1], password_hash=row[2], created_at=row[3])


def _client(row: Sequence[Any]) -> Client:
    return Client(
        client_id=row[0],
        name=row[1],
        redirect_uris=tuple(row[2].split()),
        grant_types=tuple(row[3].split()),
        scopes=tuple(row[4].split()) if row[4] is not None else None,
        secret_digest=row[5],
        created_at=row[6],
        resource_server=bool(row[7]),
    )


def _code(row: Sequence[Any]) -> AuthorizationCode:
    return AuthorizationCode(*row)


def _refresh(row: Sequence[Any]) -> RefreshToken:
    return RefreshToken(*row)


class SqlStore:
    """Implements `sekisho.server.store.Store`."""

    def __init__(self, url: str) -> None:
        """A store for `url`; nothing is opened until `connect`."""
        self.url = url
        self.database: Database
        self._read: Connection
        self._write: Connection  # single statements, each atomic by itself
        self._clients: OrderedDict[str, Client] = OrderedDict()  # LRU of registrations read, see find_client
        # PostgreSQL, see connect: client_credentials tokens, lookups and redemptions, each kind in one statement
        self._client_tokens: Batcher[dict[str, object], bool] | None = None
        self._lookups: dict[Query, Batcher[dict[str, object], Row | None]] = {}
        self._redemptions: dict[Query, Batcher[dict[str, object], Row | None]] = {}

    async def connect(self, *, migrate_schema: bool = True) -> None:
        self.database = await open_database(self.url)
        try:
            if migrate_schema and not await is_current(self.database):
                await migrate(self.url)
        except BaseException:
            await self.database.close()
            raise
        self._read = self.database.reader()
        self._write = self.database.writer()
        if self.database.dialect == "postgresql":  # SQLite: no round trip to save
            self._client_tokens = self._batch_client_tokens()
            lookups = (q.FIND_ACCESS_TOKENS, q.INSPECT_ACCESS_TOKENS, q.FIND_REFRESH_TOKENS, q.FIND_CODES)
            self._lookups = {query: self._batch_rows(query, self._read) for query in lookups}
            redemptions = (q.REDEEM_CODES, q.ROTATE_REFRESH_TOKENS)
            self._redemptions = {query: self._batch_rows(query, self._write) for query in redemptions}

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True) -> SqlStore:
        store = cls(url)
        await store.connect(migrate_schema=migrate_schema)
        return store

    async def close(self) -> None:
        await self.database.close()

    async def purge_batch(self, table: str, *, cutoff: int, now: int, batch: int) -> int:
        """Delete up to `batch` rows of `table` that are past their use (see queries.PURGES); how many went."""
        return len(await self._write.fetch_all(q.PURGES[table], cutoff=cutoff, now=now, batch=batch))

    async def ping(self) -> None:
        """Raises (StoreUnavailable on PostgreSQL) when the database cannot answer (`Database.ping`)."""
        await self.database.ping()

    # users
    async def add_user(self, user: User) -> None:
        await self._write.execute(q.INSERT_USER, **_row(user))

    async def find_user_by_name(self, username: str) -> User | None:
        row = await self._read.fetch_one(q.FIND_USER_BY_NAME, username=username)
        return _user(row) if row else None

    async def find_user(self, user_id: str) -> User | None:
        row = await self._read.fetch_one(q.FIND_USER, id=user_id)
        return _user(row) if row else None

    async def list_users(self) -> list[User]:
        return [_user(row) for row in await self._read.fetch_all(q.LIST_USERS)]

    async def count_users(self) -> int:
        row = await self._read.fetch_one(q.COUNT_USERS)
        return int(row[0]) if row else 0

    async def set_password(self, user_id: str, password_hash: str) -> None:
        await self._write.execute(q.UPDATE_PASSWORD, id=user_id, password_hash=password_hash)

    async def remove_user(self, user_id: str) -> bool:
        async with self.database.transaction() as tx:
            for query in (
                q.DELETE_USER_CODES,
                q.DELETE_USER_ACCESS_TOKENS,
                q.DELETE_USER_REFRESH_TOKENS,
                q.DELETE_USER_SESSIONS,
                q.DELETE_USER_GRANTS,
                q.DELETE_USER_NOTES,
            ):
                await tx.execute(query, id=user_id)
            return await tx.fetch_one(q.DELETE_USER, id=user_id) is not None

    # clients
    async def add_client(self, client: Client) -> None:
        async with self.database.transaction() as tx:
            listed = {
                "redirect_uris": " ".join(client.redirect_uris),
                "grant_types": " ".join(client.grant_types),
                "scopes": " ".join(client.scopes) if client.scopes is not None else None,
                "resource_server": int(client.resource_server),
            }
            await tx.execute(q.INSERT_CLIENT, **_row(client, **listed))

    async def find_client(self, client_id: str, *, remembered: bool = False) -> Client | None:
        """The registered client; `remembered`: possibly from memory, for a statement that re-checks it
        (`issue_client_token`, `redeem_code`, `rotate_refresh_token`, `inspect_access_token`,
        `inspect_refresh_token`). A registration never changes, only goes: memory can only be out of date by that."""
        if remembered and (known := self._clients.get(client_id)) is not None:
            self._clients.move_to_end(client_id)
            return known
        row = await self._read.fetch_one(q.FIND_CLIENT, client_id=client_id)
        if row is None:
            self._clients.pop(client_id, None)
            return None
        client = self._clients[client_id] = _client(row)
        if len(self._clients) > REMEMBERED_CLIENTS:
            self._clients.popitem(last=False)
        return client

    async def list_clients(self) -> list[Client]:
        return [_client(row) for row in await self._read.fetch_all(q.LIST_CLIENTS)]

    async def remove_client(self, client_id: str) -> bool:
        self._clients.pop(client_id, None)
        async with self.database.transaction() as tx:
            for query in (
                q.DELETE_CLIENT_CODES,
                q.DELETE_CLIENT_ACCESS_TOKENS,
                q.DELETE_CLIENT_REFRESH_TOKENS,
                q.DELETE_CLIENT_GRANTS,
            ):
                await tx.execute(query, client_id=client_id)
            return await tx.fetch_one(q.DELETE_CLIENT, client_id=client_id) is not None

    # authorization codes and grants
    async def issue_code(self, grant: Grant, code: AuthorizationCode) -> None:
        """Persist a new grant and its first code in one transaction."""
        async with self.database.transaction() as tx:
            await tx.execute(q.INSERT_GRANT, **_row(grant, last_used_at=None, revoked_at=None))
            await tx.execute(q.INSERT_CODE, **_row(code, created_at=grant.created_at))

    async def find_code(self, digest: str) -> AuthorizationCode | None:
        row = await self._find(q.FIND_CODE, q.FIND_CODES, {"digest": digest})
        return _code(row) if row else None

    async def redeem_code(self, ask: CodeAsk, successor: Successor) -> Outcome:
        """See Store."""
        matched = {
            "client_id": ask.client.client_id,
            "redirect_uri": ask.redirect_uri,
            "code_challenge": ask.code_challenge,
        }
        return await self._redeem(
            _CODES, ask.digest, ask.client, ask.now, matched, successor,
            lambda found, current: code_refusal(ask, cast(AuthorizationCode | None, found), current),
        )  # fmt: skip

    # tokens
    async def issue_client_token(self, token: AccessToken, client: Client) -> bool:
        """client_credentials: persist the token if `client` (perhaps from memory) is still registered with the same
        secret; False, with nothing written and `client` forgotten, if not (queries._issue_client_token)."""
        row = _row(token, revoked_at=None) | _client_checks(client)
        if self._client_tokens is not None:  # PostgreSQL: with the other tokens being issued
            return self._forget_unless(await self._client_tokens.submit(row), client)
        written = await self._write.fetch_one(q.ISSUE_CLIENT_TOKEN, **row)
        return self._forget_unless(written is not None, client)

    def _batch_client_tokens(self) -> Batcher[dict[str, object], bool]:
        """PostgreSQL: many client_credentials tokens, each with its own checks, in one INSERT (store/batch.py)."""

        async def write(rows: Sequence[dict[str, object]]) -> list[bool]:
            inserted = {digest for (digest,) in await self._write.fetch_all(q.ISSUE_CLIENT_TOKENS, **_arrays(rows))}
            return [row["digest"] in inserted for row in rows]

        return Batcher(write)

    def _forget_unless(self, written: bool, client: Client) -> bool:
        """`written`; when not, `client` is forgotten, in case it was removed (see find_client)."""
        if not written:
            self._clients.pop(client.client_id, None)
        return written

    async def find_access_token(self, digest: str, now: int) -> AccessToken | None:
        """The token if it is neither revoked nor expired."""
        row = await self._find(q.FIND_ACCESS_TOKEN, q.FIND_ACCESS_TOKENS, {"digest": digest, "now": now})
        return AccessToken(*row) if row else None

    async def inspect_access_token(self, digest: str, now: int, caller: Client) -> tuple[bool, AccessToken | None]:
        """Whether `caller` (perhaps from memory) is still registered with the same secret, and the token if it is
        neither revoked nor expired, in one statement (queries._inspect_access_token)."""
        params: dict[str, object] = {"digest": digest, "now": now, **_client_checks(caller)}
        row = await self._find(q.INSPECT_ACCESS_TOKEN, q.INSPECT_ACCESS_TOKENS, params)
        if row is None:
            raise RuntimeError("an access token's inspection answers whether or not the token exists")
        current = self._forget_unless(bool(row[0]), caller)
        return current, None if row[1] is None else AccessToken(*row[1:])

    async def inspect_refresh_token(self, digest: str, caller: Client) -> tuple[bool, RefreshToken | None]:
        """Whether `caller` (perhaps from memory) is still registered with the same secret, and the refresh token,
        in one statement (queries._inspect)."""
        row = await self._read.fetch_one(q.INSPECT_REFRESH_TOKEN, digest=digest, **_client_checks(caller))
        current, found = _REFRESH_TOKENS.found(row)
        return self._forget_unless(current, caller), cast(RefreshToken | None, found)

    async def _find(self, one: Query, many: Query, params: dict[str, object]) -> Row | None:
        """`one` row; on PostgreSQL, with the other lookups being made at the time (`many`, queries._find_many)."""
        if self._lookups:
            return await self._lookups[many].submit(params)
        return await self._read.fetch_one(one, **params)

    @staticmethod
    def _batch_rows(query: Query, connection: Connection) -> Batcher[dict[str, object], Row | None]:
        """PostgreSQL: many lookups (or unread redemptions), each with its own checks, in one statement
        (store/batch.py); each gets the row that came back after its position, or None."""

        async def look_up(rows: Sequence[dict[str, object]]) -> list[Row | None]:
            arrays = _arrays(rows)
            found = {
                row[0]: row[1:] for row in await connection.fetch_all(query, position=list(range(len(rows))), **arrays)
            }
            return [found.get(position) for position in range(len(rows))]

        return Batcher(look_up)

    async def find_refresh_token(self, digest: str) -> RefreshToken | None:
        row = await self._find(q.FIND_REFRESH_TOKEN, q.FIND_REFRESH_TOKENS, {"digest": digest})
        return _refresh(row) if row else None

    async def rotate_refresh_token(self, ask: RefreshAsk, successor: Successor) -> Outcome:
        """See Store."""
        return await self._redeem(
            _REFRESH_TOKENS, ask.digest, ask.client, ask.now, {"client_id": ask.client.client_id}, successor,
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
        params = {"digest": digest, "now": now, **matched, **_client_checks(client)}
        if self._redemptions:  # PostgreSQL
            drawn = successor.drawn
            if drawn is None:
                current, found = kind.found(await self._read.fetch_one(kind.inspect, **params))
                if (refused := refusal(found, current)) is not None or found is None:
                    return self._refuse(refused or Refused("unknown"), client)
                drawn = await successor.make(Found(found.grant_id, found.user_id, found.scope))
            answer = await self._redemptions[kind.many].submit(params | _row(drawn))
            if answer is None:
                raise RuntimeError("a redemption's statement answers every position")
            won, (current, found) = bool(answer[0]), kind.found(answer[1:])
            if won and found is not None:
                return Redeemed(_successors(client, drawn, now, found))
            # Not consumed though nothing was wrong before: a parallel redemption won it (RFC 6749 §4.1.2).
            refused = refusal(found, current) or Refused("replayed", None if found is None else found.grant_id)
            return self._refuse(refused, client)
        async with self.database.transaction() as tx:
            current, found = kind.found(await tx.fetch_one(kind.inspect, **params))
            if (refused := refusal(found, current)) is not None or found is None:
                return self._refuse(refused or Refused("unknown"), client)
            drawn = successor.drawn or await successor.make(Found(found.grant_id, found.user_id, found.scope))
            await tx.execute(kind.consume, digest=digest, now=now)
            tokens = _successors(client, drawn, now, found)
            await _insert_tokens(tx, tokens, now)
            return Redeemed(tokens)

    def _refuse(self, refused: Refused, client: Client) -> Refused:
        """`refused`; a client found gone is forgotten (see find_client)."""
        if refused.reason == "client_gone":
            self._clients.pop(client.client_id, None)
        return refused

    async def revoke_access_token(self, digest: str, now: int) -> None:
        await self._write.execute(q.REVOKE_ACCESS_TOKEN, digest=digest, now=now)

    async def revoke_grant(self, grant_id: str, now: int) -> None:
        """Revoke a grant and every token of its family."""
        async with self.database.transaction() as tx:
            await tx.execute(q.REVOKE_GRANT, grant_id=grant_id, now=now)
            await tx.execute(q.REVOKE_GRANT_ACCESS_TOKENS, grant_id=grant_id, now=now)
            await tx.execute(q.REVOKE_GRANT_REFRESH_TOKENS, grant_id=grant_id, now=now)

    # login sessions
    async def create_session(self, digest: str, user_id: str, now: int, expires_at: int) -> None:
        await self._write.execute(
            q.INSERT_SESSION, digest=digest, user_id=user_id, created_at=now, expires_at=expires_at
        )

    async def find_session_user(self, digest: str, now: int) -> User | None:
        row = await self._read.fetch_one(q.FIND_SESSION_USER, digest=digest, now=now)
        return _user(row) if row else None

    async def delete_session(self, digest: str) -> None:
        await self._write.execute(q.DELETE_SESSION, digest=digest)

    # server secrets
    async def server_secret(self, name: str, candidate: str, now: int) -> str:
        """The secret stored under `name`; the first caller's candidate wins."""
        row = await self._read.fetch_one(q.FIND_SECRET, name=name)
        if row is None:
            try:
                async with self.database.transaction() as tx:
                    await tx.execute(q.INSERT_SECRET, name=name, value=candidate, created_at=now)
            except Exception:  # another worker inserted it first: read theirs below
                pass
            row = await self._read.fetch_one(q.FIND_SECRET, name=name)
        if row is None:
            raise RuntimeError(f"could not store the server secret {name!r}")
        return str(row[0])

    # login throttling
    async def reserve_login_attempt(
        self, user_key: str, addr_key: str, now: int, decide: Callable[[LoginAttempts, LoginAttempts], Reservation]
    ) -> Reservation:
        """Lock both keys' rows, let `decide` judge the attempt from them, and store the rows it returns, in one
        transaction: parallel attempts (from any process on the database) are judged one after another."""
        async with self.database.transaction() as tx:
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

    async def forgive_login_attempt(self, user_key: str, addr_key: str) -> None:
        """A verified password: the account's attempts are forgotten, and the address's count loses this one (its
        row goes when none are left)."""
        async with self.database.transaction() as tx:
            await tx.execute(q.DELETE_THROTTLE, key=user_key)
            await tx.execute(q.FORGIVE_THROTTLE, key=addr_key)
            await tx.execute(q.DELETE_SPENT_THROTTLE, key=addr_key)  # no row is kept for an address with none

    # connected apps
    async def list_user_grants(self, user_id: str) -> list[tuple[Grant, int | None]]:
        """The user's grants that are not revoked, oldest first, each with when it last issued a token."""
        rows = await self._read.fetch_all(q.LIST_USER_GRANTS, user_id=user_id)
        return [(Grant(row[0], user_id, row[1], row[2], row[3]), row[4]) for row in rows]

    async def find_app_name(self, client_id: str) -> str | None:
        """The name a client goes by: registered, a URL client's page, or a MiAuth app."""
        if client_id.startswith("miauth:"):
            row = await self._read.fetch_one(q.FIND_MIAUTH_NAME, session=client_id.removeprefix("miauth:"))
        else:
            row = await self._read.fetch_one(q.FIND_CLIENT_NAME, client_id=client_id)
            row = row or await self._read.fetch_one(q.FIND_URL_CLIENT_NAME, client_id=client_id)
        return str(row[0]) if row else None

    # URL clients
    async def find_url_client(self, client_id: str, now: int) -> ClientMetadata | None:
        row = await self._read.fetch_one(q.FIND_URL_CLIENT, client_id=client_id, now=now)
        if row is None:
            return None
        return ClientMetadata(client_id, row[0], tuple(row[1].split()), row[2], row[3])

    async def save_url_client(self, found: ClientMetadata, now: int, expires_at: int) -> None:
        row = _row(found, redirect_uris=" ".join(found.redirect_uris), fetched_at=now, expires_at=expires_at)
        await self._write.execute(q.SAVE_URL_CLIENT, **row, logo=found.logo_uri)

    # MiAuth
    async def record_miauth(self, session: MiAuthSession) -> bool:
        """Store the user's decision for a session; False if that session was decided before."""
        async with self.database.transaction() as tx:
            if await tx.fetch_one(q.FIND_MIAUTH, session=session.session) is not None:
                return False
            await tx.execute(q.INSERT_MIAUTH, **_row(session), consumed_at=None)
            return True

    async def redeem_miauth(self, session: str, now: int, mint: MiAuthMint) -> tuple[str, NewTokens] | None:
        """Consume an allowed session and persist the token `mint` makes for it, once; else None."""
        async with self.database.transaction() as tx:
            row = await tx.fetch_one(q.CONSUME_MIAUTH, session=session, now=now)
            if row is None:
                return None
            grant, tokens = mint(str(row[0]), str(row[1]), str(row[2]))
            await tx.execute(q.INSERT_GRANT, **_row(grant, last_used_at=None, revoked_at=None))
            await _insert_tokens(tx, tokens, now)
            return str(row[0]), tokens

    # JWT signing keys
    async def list_signing_keys(self) -> list[SigningKey]:
        return [SigningKey(*row) for row in await self._read.fetch_all(q.LIST_SIGNING_KEYS)]

    async def add_signing_key(self, key: SigningKey, *, retire_others: bool) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(q.INSERT_SIGNING_KEY, **_row(key))
            if retire_others:
                await tx.execute(q.RETIRE_SIGNING_KEYS, kid=key.kid, now=key.created_at)

    async def delete_signing_keys_retired_before(self, before: int) -> None:
        await self._write.execute(q.DELETE_SIGNING_KEYS_RETIRED_BEFORE, before=before)


def _successors(client: Client, successors: Successors, now: int, found: Redeemable) -> NewTokens:
    """The tokens a redemption wrote: `successors`, with the grant, user and scope of the code or refresh token
    consumed (an access token may have a narrower scope; a rotated refresh token keeps its absolute expiry)."""
    scope = successors.access_scope or found.scope
    access = AccessToken(
        successors.access_digest,
        found.grant_id,
        client.client_id,
        found.user_id,
        scope,
        successors.access_expires_at,
        now,
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
    )
    return NewTokens(access, refresh)


async def _insert_tokens(tx: Connection, tokens: NewTokens, now: int) -> None:
    await tx.execute(q.INSERT_ACCESS_TOKEN, **_row(tokens.access, revoked_at=None))
    if tokens.refresh is not None:
        await tx.execute(q.INSERT_REFRESH_TOKEN, **_row(tokens.refresh))
    if tokens.access.grant_id is not None:
        await tx.execute(q.TOUCH_GRANT, grant_id=tokens.access.grant_id, now=now)
