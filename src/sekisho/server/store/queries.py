"""Every statement the store runs, defined once with SQLAlchemy Core and compiled once per dialect."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Column, Integer, String, Table, and_, bindparam, cast, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from sekisho.server.entities import (
    AccessToken,
    AuthorizationCode,
    Client,
    DeviceCode,
    Grant,
    RefreshToken,
    RegistrationToken,
    SigningKey,
    User,
)
from sekisho.server.store.driver import Query
from sekisho.server.store.schema import (
    access_tokens,
    authorization_codes,
    clients,
    device_codes,
    dpop_proofs,
    grants,
    login_throttles,
    miauth_sessions,
    notes,
    pushed_requests,
    refresh_tokens,
    registration_tokens,
    server_secrets,
    sessions,
    signing_keys,
    url_clients,
    users,
)


def _insert(table: object) -> Query:
    columns = table.c  # type: ignore[attr-defined]
    return Query(insert(table).values({column.name: bindparam(column.name) for column in columns}))  # type: ignore[arg-type]


def columns(table: Table, record: type, *, absent: Collection[str] = ()) -> tuple[Column[Any], ...]:
    """The columns of `table` named like `record`'s fields, in field order, but those in `absent`: a row of them
    builds the record by name (a new field is a new column, read everywhere at once)."""
    return tuple(table.c[field.name] for field in fields(record) if field.name not in absent)


USER_COLUMNS = columns(users, User)
# a registered client's logo is read alone (FIND_CLIENT_LOGO), for the pages that show it; client_uri is URL clients'
CLIENT_COLUMNS = columns(clients, Client, absent=("logo", "client_uri"))
CODE_COLUMNS = columns(authorization_codes, AuthorizationCode)
ACCESS_COLUMNS = columns(access_tokens, AccessToken)
REFRESH_COLUMNS = columns(refresh_tokens, RefreshToken)

# users
INSERT_USER = _insert(users)
FIND_USER_BY_NAME = Query(select(*USER_COLUMNS).where(users.c.username == bindparam("username")))
FIND_USER = Query(select(*USER_COLUMNS).where(users.c.id == bindparam("id")))
LIST_USERS = Query(select(*USER_COLUMNS).order_by(users.c.username))
COUNT_USERS = Query(select(func.count()).select_from(users))
UPDATE_PASSWORD = Query(
    update(users).where(users.c.id == bindparam("id")).values(password_hash=bindparam("password_hash"))
)
DELETE_USER = Query(delete(users).where(users.c.id == bindparam("id")).returning(users.c.id))

# clients
INSERT_CLIENT = _insert(clients)
FIND_CLIENT = Query(select(*CLIENT_COLUMNS).where(clients.c.client_id == bindparam("client_id")))
FIND_CLIENT_LOGO = Query(select(clients.c.logo).where(clients.c.client_id == bindparam("client_id")))
LIST_CLIENTS = Query(select(*CLIENT_COLUMNS).order_by(clients.c.created_at, clients.c.client_id))
DELETE_CLIENT = Query(
    delete(clients).where(clients.c.client_id == bindparam("client_id")).returning(clients.c.client_id)
)

# initial access tokens (RFC 7591 §3): usable while unexpired with a use left (NULL: no limit)
INSERT_REGISTRATION_TOKEN = _insert(registration_tokens)
_REGISTRATION_TOKEN_USABLE = (
    registration_tokens.c.digest == bindparam("digest"),
    or_(registration_tokens.c.expires_at.is_(None), registration_tokens.c.expires_at > bindparam("now")),
    or_(registration_tokens.c.uses_left.is_(None), registration_tokens.c.uses_left > 0),
)
FIND_REGISTRATION_TOKEN = Query(select(registration_tokens.c.digest).where(*_REGISTRATION_TOKEN_USABLE))
LIST_REGISTRATION_TOKENS = Query(
    select(*columns(registration_tokens, RegistrationToken)).order_by(
        registration_tokens.c.created_at, registration_tokens.c.digest
    )
)
DELETE_REGISTRATION_TOKEN = Query(
    delete(registration_tokens)
    .where(registration_tokens.c.digest == bindparam("digest"))
    .returning(registration_tokens.c.digest)
)
SPEND_REGISTRATION_TOKEN = Query(
    update(registration_tokens)
    .where(*_REGISTRATION_TOKEN_USABLE)
    .values(uses_left=registration_tokens.c.uses_left - 1)  # NULL stays NULL
    .returning(registration_tokens.c.digest)
)

# grants, codes and tokens
INSERT_GRANT = _insert(grants)
INSERT_CODE = _insert(authorization_codes)
INSERT_ACCESS_TOKEN = _insert(access_tokens)
INSERT_REFRESH_TOKEN = _insert(refresh_tokens)
FIND_CODE = Query(select(*CODE_COLUMNS).where(authorization_codes.c.digest == bindparam("digest")))


def _usable_at(now: Any) -> tuple[ColumnElement[bool], ...]:
    """An access token neither revoked nor expired at `now`."""
    return access_tokens.c.revoked_at.is_(None), access_tokens.c.expires_at > now


_FIND_ACCESS_TOKEN = select(*ACCESS_COLUMNS).where(
    access_tokens.c.digest == bindparam("digest"), *_usable_at(bindparam("now"))
)
FIND_ACCESS_TOKEN = Query(_FIND_ACCESS_TOKEN)
CLIENT_CHECKS: list[tuple[str, Any]] = [
    ("registered_id", clients.c.client_id.type),
    ("secret_digest", clients.c.secret_digest.type),
]


def _value(name: str, batch: Any = None) -> Any:
    """The parameter `name` of a statement: bound once, or a column of `batch` for a statement of many rows."""
    return bindparam(name) if batch is None else batch.c[name]


def _client_current(batch: Any = None) -> ColumnElement[bool]:
    """The asking client, which the caller may have from memory, is still registered with the secret it showed
    (`registered_id`, `secret_digest`); true when `registered_id` is NULL (a URL client is never registered). In a
    statement for many rows at once, `batch` (see `_batch`) holds these values per row."""
    registered_id: Any
    secret_digest: Any
    if batch is None:  # typed, or PostgreSQL cannot tell the type of a parameter only compared with NULL
        registered_id, secret_digest = cast(bindparam("registered_id"), String()), bindparam("secret_digest")
    else:
        registered_id, secret_digest = batch.c.registered_id, batch.c.secret_digest
    registered = (
        select(clients.c.client_id)
        .where(clients.c.client_id == registered_id, clients.c.secret_digest.is_not_distinct_from(secret_digest))
        .exists()
    )
    return or_(registered_id.is_(None), registered)


def _batch(columns: Sequence[tuple[str, Any]]) -> Any:
    """PostgreSQL: the rows of a statement for many at once (store/batch.py), `unnest` of one array parameter per
    column, each named for its column."""
    arrays = [cast(bindparam(name), postgresql.ARRAY(kind)) for name, kind in columns]
    return func.unnest(*arrays).table_valued(*(name for name, _ in columns)).render_derived(name="batch")


def _find_many(columns: Sequence[Any], *, usable_at: bool = False) -> Query:
    """PostgreSQL, many lookups by digest in one statement (store/batch.py), for each row of parallel arrays
    (`position`, `digest`, and, as asked, `now` for `_usable_at`); each row found comes back after its `position`."""
    table = columns[0].table
    batch = _batch(
        [("position", Integer()), ("digest", table.c.digest.type)]
        + ([("now", table.c.expires_at.type)] if usable_at else [])
    )
    found = (
        select(batch.c.position, *columns)
        .join_from(batch, table, table.c.digest == batch.c.digest)
        .where(*(_usable_at(batch.c.now) if usable_at else ()))
    )
    return Query({"postgresql": found})


FIND_ACCESS_TOKENS = _find_many(ACCESS_COLUMNS, usable_at=True)


def _inspect_access_token(*, many: bool) -> Query:
    """Introspection: whether the asking client (perhaps from memory) is still registered with the secret it showed
    (`_client_current`), then the access token's columns if it is neither revoked nor expired (NULLs if not), in one
    statement; `many`: on PostgreSQL for each row of parallel arrays (store/batch.py), after its `position`."""
    if not many:
        now = cast(bindparam("now"), access_tokens.c.expires_at.type)
        asked = select(cast(bindparam("digest"), String()).label("digest"), now.label("now"))
        rows, first = asked.subquery("asked"), []
    else:
        rows = _batch(
            [("position", Integer()), ("digest", access_tokens.c.digest.type), ("now", access_tokens.c.expires_at.type)]
            + CLIENT_CHECKS
        )
        first = [rows.c.position]
    usable = and_(access_tokens.c.digest == rows.c.digest, *_usable_at(rows.c.now))
    found = select(*first, _client_current(rows if many else None), *ACCESS_COLUMNS)
    found = found.select_from(rows.outerjoin(access_tokens, usable))
    return Query({"postgresql": found} if many else found)


INSPECT_ACCESS_TOKEN = _inspect_access_token(many=False)
INSPECT_ACCESS_TOKENS = _inspect_access_token(many=True)
FIND_REFRESH_TOKEN = Query(select(*REFRESH_COLUMNS).where(refresh_tokens.c.digest == bindparam("digest")))
FIND_REFRESH_TOKENS = _find_many(REFRESH_COLUMNS)
FIND_CODES = _find_many(CODE_COLUMNS)

# Redemptions (Grants.redeem_code, Grants.rotate_refresh_token). What a request must match to consume a code or refresh
# token besides its digest: the asking client's, unexpired, unused (a refresh token also unrevoked), and for a code
# the same redirect_uri and PKCE challenge. CONTRACT.md §3: single use is one atomic statement.
_MATCHED = {
    authorization_codes: ("client_id", "redirect_uri", "code_challenge"),
    refresh_tokens: ("client_id",),
}
_COLUMNS = {authorization_codes: CODE_COLUMNS, refresh_tokens: REFRESH_COLUMNS}


def _unused(table: Any) -> list[ColumnElement[bool]]:
    revoked = [table.c.revoked_at.is_(None)] if table is refresh_tokens else []
    return [table.c.consumed_at.is_(None), *revoked]


def _inspect(table: Any) -> Query:
    """A redemption's read: whether the asking client is current (`_client_current`), then the row of `digest`'s
    columns (NULLs when there is none), in one statement whether or not the row exists."""
    asked = select(cast(bindparam("digest"), String()).label("digest")).subquery("asked")
    found = select(_client_current().label("client_current"), *_COLUMNS[table])
    return Query(found.select_from(asked.outerjoin(table, table.c.digest == asked.c.digest)))


INSPECT_CODE = _inspect(authorization_codes)
INSPECT_REFRESH_TOKEN = _inspect(refresh_tokens)


def _consume(table: Any) -> Query:
    """SQLite, in the transaction that inspected the row and found it usable: mark it consumed."""
    return Query(update(table).where(table.c.digest == bindparam("digest")).values(consumed_at=bindparam("now")))


CONSUME_CODE = _consume(authorization_codes)
CONSUME_REFRESH_TOKEN = _consume(refresh_tokens)


def _redeem_many(table: Any) -> Query:
    """PostgreSQL only: many redemptions of codes (or refresh tokens) in one statement (store/batch.py), a row of
    parallel arrays for each: `position`, `now`, `digest`, what `_MATCHED` compares, the client's checks, and the
    successors (entities.Successors: digests, expiry times, the access token's scope and resources or NULL for the
    whole of them, and, with a code, the new family's absolute expiry; a NULL `refresh_digest` issues no refresh token).

    The consuming UPDATE matches only a row every check allows; only those rows' successors are inserted and their
    grants touched, so a secret consumed concurrently (or twice in one batch) writes nothing for its row. Every
    position comes back with whether it won, whether the client is current, and the row as it was before this
    statement (the `found` CTE reads the snapshot the UPDATE started from), from which the store tells the refusal.
    """
    kinds = {column.name: column.type for column in table.c}
    expiry = refresh_tokens.c.expires_at.type
    successors = [
        ("access_digest", access_tokens.c.digest.type),
        ("access_expires_at", expiry),
        ("access_scope", access_tokens.c.scope.type),
        ("access_resource", access_tokens.c.resource.type),
        ("access_jkt", access_tokens.c.jkt.type),
        ("refresh_digest", refresh_tokens.c.digest.type),
        ("refresh_expires_at", expiry),
        ("refresh_jkt", refresh_tokens.c.jkt.type),
    ]
    if table is authorization_codes:
        successors.append(("refresh_absolute_expires_at", expiry))
    asked = [("position", Integer()), ("now", expiry), ("digest", kinds["digest"]), ("jkt", kinds["jkt"])]
    matched = [(name, kinds[name]) for name in _MATCHED[table]]
    rows = select(_batch([*asked, *matched, *CLIENT_CHECKS, *successors])).cte("rows")
    absolute = table.c.absolute_expires_at if table is refresh_tokens else rows.c.refresh_absolute_expires_at
    consumed = (
        update(table)
        .where(
            table.c.digest == rows.c.digest,
            *(table.c[name] == rows.c[name] for name in _MATCHED[table]),
            table.c.expires_at > rows.c.now,
            *_unused(table),
            _client_current(rows),
            # RFC 9449 §5, §10: a row bound to a DPoP key only with a proof made with it (`jkt`: the proof's)
            or_(table.c.jkt.is_(None), table.c.jkt == rows.c.jkt),
        )
        .values(consumed_at=rows.c.now)
        .returning(
            rows.c.position,
            table.c.grant_id,
            table.c.user_id,
            table.c.scope,
            func.coalesce(rows.c.access_scope, table.c.scope).label("access_scope"),
            table.c.resource,
            func.coalesce(rows.c.access_resource, table.c.resource).label("access_resource"),
            rows.c.client_id,
            rows.c.now,
            rows.c.access_digest,
            rows.c.access_expires_at,
            rows.c.access_jkt,
            rows.c.refresh_digest,
            rows.c.refresh_jkt,
            absolute.label("refresh_absolute"),
            # the idle expiry, never past the absolute one (as entities.refresh_expiry computes it)
            func.least(rows.c.refresh_expires_at, absolute).label("refresh_until"),
        )
        .cte("consumed")
    )
    c = consumed.c
    common = (c.grant_id, c.client_id, c.user_id, c.now)
    columns = ["digest", "grant_id", "client_id", "user_id", "created_at", "scope", "resource", "expires_at", "jkt"]
    inserts = [
        insert(access_tokens).from_select(
            columns,
            select(c.access_digest, *common, c.access_scope, c.access_resource, c.access_expires_at, c.access_jkt),
        ),
        insert(refresh_tokens).from_select(
            [*columns, "absolute_expires_at"],
            select(
                c.refresh_digest, *common, c.scope, c.resource, c.refresh_until, c.refresh_jkt, c.refresh_absolute
            ).where(c.refresh_digest.is_not(None)),
        ),
    ]
    touch = update(grants).where(grants.c.id == c.grant_id).values(last_used_at=c.now)
    found = (
        select(rows.c.position, *_COLUMNS[table]).join_from(rows, table, table.c.digest == rows.c.digest).cte("found")
    )
    answer = select(
        rows.c.position,
        consumed.c.position.is_not(None).label("won"),
        _client_current(rows).label("client_current"),
        *(found.c[column.name] for column in _COLUMNS[table]),
    ).select_from(
        rows.outerjoin(found, found.c.position == rows.c.position).outerjoin(
            consumed, consumed.c.position == rows.c.position
        )
    )
    ctes = [each.cte(f"new_{number}") for number, each in enumerate(inserts)]
    return Query({"postgresql": answer.add_cte(*ctes, touch.cte("touched"))})


REDEEM_CODES = _redeem_many(authorization_codes)
ROTATE_REFRESH_TOKENS = _redeem_many(refresh_tokens)
REVOKE_ACCESS_TOKEN = Query(
    update(access_tokens)
    .where(access_tokens.c.digest == bindparam("digest"), access_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
TOUCH_GRANT = Query(update(grants).where(grants.c.id == bindparam("grant_id")).values(last_used_at=bindparam("now")))
REVOKE_GRANT = Query(
    update(grants)
    .where(grants.c.id == bindparam("grant_id"), grants.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
REVOKE_GRANT_ACCESS_TOKENS = Query(
    update(access_tokens)
    .where(access_tokens.c.grant_id == bindparam("grant_id"), access_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
REVOKE_GRANT_REFRESH_TOKENS = Query(
    update(refresh_tokens)
    .where(refresh_tokens.c.grant_id == bindparam("grant_id"), refresh_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
# A user's removal takes every code and token with it.
DELETE_USER_CODES = Query(delete(authorization_codes).where(authorization_codes.c.user_id == bindparam("id")))
DELETE_USER_ACCESS_TOKENS = Query(delete(access_tokens).where(access_tokens.c.user_id == bindparam("id")))
DELETE_USER_REFRESH_TOKENS = Query(delete(refresh_tokens).where(refresh_tokens.c.user_id == bindparam("id")))
DELETE_USER_SESSIONS = Query(delete(sessions).where(sessions.c.user_id == bindparam("id")))
DELETE_USER_GRANTS = Query(delete(grants).where(grants.c.user_id == bindparam("id")))
DELETE_USER_NOTES = Query(delete(notes).where(notes.c.user_id == bindparam("id")))
# A client's removal likewise.
DELETE_CLIENT_CODES = Query(
    delete(authorization_codes).where(authorization_codes.c.client_id == bindparam("client_id"))
)
DELETE_CLIENT_ACCESS_TOKENS = Query(delete(access_tokens).where(access_tokens.c.client_id == bindparam("client_id")))
DELETE_CLIENT_REFRESH_TOKENS = Query(delete(refresh_tokens).where(refresh_tokens.c.client_id == bindparam("client_id")))
DELETE_CLIENT_GRANTS = Query(delete(grants).where(grants.c.client_id == bindparam("client_id")))

# sessions
INSERT_SESSION = _insert(sessions)
FIND_SESSION_USER = Query(
    select(*USER_COLUMNS)
    .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
    .where(sessions.c.digest == bindparam("digest"), sessions.c.expires_at > bindparam("now"))
)
DELETE_SESSION = Query(delete(sessions).where(sessions.c.digest == bindparam("digest")))

# server secrets (shared by every worker and server through the database)
INSERT_SECRET = _insert(server_secrets)
FIND_SECRET = Query(select(server_secrets.c.value).where(server_secrets.c.name == bindparam("name")))

# JWT signing keys: a handful of rows, read whole
INSERT_SIGNING_KEY = _insert(signing_keys)
LIST_SIGNING_KEYS = Query(
    select(*columns(signing_keys, SigningKey)).order_by(signing_keys.c.created_at, signing_keys.c.kid)
)
RETIRE_SIGNING_KEYS = Query(
    update(signing_keys)
    .where(signing_keys.c.kid != bindparam("kid"), signing_keys.c.retired_at.is_(None))
    .values(retired_at=bindparam("now"))
)
DELETE_SIGNING_KEYS_RETIRED_BEFORE = Query(delete(signing_keys).where(signing_keys.c.retired_at < bindparam("before")))


def _issue_client_token() -> Query:
    """client_credentials: insert the access token only while its client is registered with the secret it showed
    (`_client_current`): the caller may have it from memory, and a client removed since inserts nothing (no row
    returned), in the same statement."""
    row = select(*(bindparam(column.name, type_=column.type) for column in access_tokens.c)).where(_client_current())
    return Query(insert(access_tokens).from_select(list(access_tokens.c), row).returning(access_tokens.c.digest))


ISSUE_CLIENT_TOKEN = _issue_client_token()


def _issue_client_tokens() -> Query:
    """client_credentials on PostgreSQL, many tokens in one statement (store/batch.py): `_issue_client_token`
    for each row of parallel arrays, one per column plus the row's client checks. Each row is checked on its own;
    the digests of the rows inserted come back."""
    batch = _batch([(column.name, column.type) for column in access_tokens.c] + CLIENT_CHECKS)
    rows = select(*(batch.c[column.name] for column in access_tokens.c)).where(_client_current(batch))
    statement = insert(access_tokens).from_select(list(access_tokens.c), rows).returning(access_tokens.c.digest)
    return Query({"postgresql": statement})


ISSUE_CLIENT_TOKENS = _issue_client_tokens()


# login throttling: one row per account or address that failed recently
_THROTTLE_ROW = {
    "key": bindparam("key"),
    "failures": 0,
    "last_failure_at": bindparam("now"),
    "blocked_until": 0,
}
_ENSURE_PG = postgresql.insert(login_throttles).values(_THROTTLE_ROW)
# PostgreSQL: a no-op update of an existing row locks it at once, so a parallel forgive() cannot delete it between
# this statement and LOCK_THROTTLES (which would then find no row); one deleted just before is inserted anew.
# SQLite: the transaction (BEGIN IMMEDIATE) already holds the only write lock.
ENSURE_THROTTLE = Query(
    {
        "sqlite": sqlite.insert(login_throttles).values(_THROTTLE_ROW).on_conflict_do_nothing(),
        "postgresql": _ENSURE_PG.on_conflict_do_update(
            index_elements=[login_throttles.c.key], set_={"key": _ENSURE_PG.excluded.key}
        ),
    }
)
LOCK_THROTTLES = Query(
    select(
        login_throttles.c.key,
        login_throttles.c.failures,
        login_throttles.c.last_failure_at,
        login_throttles.c.blocked_until,
    )
    .where(login_throttles.c.key.in_([bindparam("user_key"), bindparam("addr_key")]))
    .order_by(login_throttles.c.key)  # one lock order for every caller: no deadlock between two attempts
    .with_for_update()
)
UPDATE_THROTTLE = Query(
    update(login_throttles)
    .where(login_throttles.c.key == bindparam("key"))
    .values(
        failures=bindparam("failures"),
        last_failure_at=bindparam("now"),
        blocked_until=bindparam("blocked_until"),
    )
)
FORGIVE_THROTTLE = Query(
    update(login_throttles)
    .where(login_throttles.c.key == bindparam("key"), login_throttles.c.failures > 0)
    .values(failures=login_throttles.c.failures - 1)
)
DELETE_THROTTLE = Query(delete(login_throttles).where(login_throttles.c.key == bindparam("key")))
DELETE_SPENT_THROTTLE = Query(
    delete(login_throttles).where(login_throttles.c.key == bindparam("key"), login_throttles.c.failures <= 0)
)

# URL clients' cached pages: an upsert, since any worker may refresh one
_URL_CLIENT: dict[str, Any] = {column.name: bindparam(column.name) for column in url_clients.c}
_URL_CLIENT_UPDATE = {name: value for name, value in _URL_CLIENT.items() if name != "client_id"}
SAVE_URL_CLIENT = Query(
    {
        "sqlite": sqlite.insert(url_clients)
        .values(_URL_CLIENT)
        .on_conflict_do_update(index_elements=["client_id"], set_=_URL_CLIENT_UPDATE),
        "postgresql": postgresql.insert(url_clients)
        .values(_URL_CLIENT)
        .on_conflict_do_update(index_elements=["client_id"], set_=_URL_CLIENT_UPDATE),
    }
)
FIND_URL_CLIENT = Query(
    select(url_clients.c.name, url_clients.c.redirect_uris, url_clients.c.logo, url_clients.c.client_uri).where(
        url_clients.c.client_id == bindparam("client_id"), url_clients.c.expires_at > bindparam("now")
    )
)

# MiAuth
INSERT_MIAUTH = _insert(miauth_sessions)
FIND_MIAUTH = Query(select(miauth_sessions.c.session).where(miauth_sessions.c.session == bindparam("session")))
CONSUME_MIAUTH = Query(
    update(miauth_sessions)
    .where(
        miauth_sessions.c.session == bindparam("session"),
        miauth_sessions.c.allowed == 1,
        miauth_sessions.c.consumed_at.is_(None),
        miauth_sessions.c.expires_at > bindparam("now"),
    )
    .values(consumed_at=bindparam("now"))
    .returning(miauth_sessions.c.user_id, miauth_sessions.c.name, miauth_sessions.c.scope)
)

# device codes (RFC 8628): one transaction per poll or decision, the row locked (PostgreSQL) or the database
# (SQLite's BEGIN IMMEDIATE), so parallel polls are judged one after another
DEVICE_COLUMNS = columns(device_codes, DeviceCode)
INSERT_DEVICE_CODE = _insert(device_codes)
# A user code is unique among the rows kept; an expired one not yet purged gives its user code up.
FREE_USER_CODE = Query(
    delete(device_codes).where(
        device_codes.c.user_code == bindparam("user_code"), device_codes.c.expires_at <= bindparam("now")
    )
)
FIND_DEVICE_CODE = Query(select(*DEVICE_COLUMNS).where(device_codes.c.user_code == bindparam("user_code")))
LOCK_DEVICE_CODE = Query(
    select(_client_current().label("client_current"), *DEVICE_COLUMNS)
    .where(device_codes.c.digest == bindparam("digest"))
    .with_for_update(of=device_codes)
)
CLIENT_CURRENT = Query(select(_client_current()))
DECIDE_DEVICE_CODE = Query(
    update(device_codes)
    .where(
        device_codes.c.user_code == bindparam("user_code"),
        device_codes.c.status == "pending",
        device_codes.c.expires_at > bindparam("now"),
    )
    .values(status=bindparam("status"), user_id=bindparam("user_id"), grant_id=bindparam("grant_id"))
    .returning(device_codes.c.digest)
)
RECORD_DEVICE_POLL = Query(
    update(device_codes)
    .where(device_codes.c.digest == bindparam("digest"))
    .values(last_poll_at=bindparam("now"), interval=bindparam("interval"))
)
_GRANT_STANDS = (
    select(grants.c.id).where(grants.c.id == device_codes.c.grant_id, grants.c.revoked_at.is_(None)).exists()
)
# Consumed only while its grant stands: the person may have revoked the app before the device came to poll.
CONSUME_DEVICE_CODE = Query(
    update(device_codes)
    .where(device_codes.c.digest == bindparam("digest"), device_codes.c.status == "approved", _GRANT_STANDS)
    .values(status="consumed", last_poll_at=bindparam("now"))
    .returning(device_codes.c.digest)
)
DELETE_USER_DEVICE_CODES = Query(delete(device_codes).where(device_codes.c.user_id == bindparam("id")))
# pushed authorization requests (RFC 9126): looked up while the user signs in, taken (deleted) once
INSERT_PUSHED_REQUEST = _insert(pushed_requests)
_PUSHED_LIVE = (
    pushed_requests.c.digest == bindparam("digest"),
    pushed_requests.c.client_id == bindparam("client_id"),
    pushed_requests.c.expires_at > bindparam("now"),
)
FIND_PUSHED_REQUEST = Query(select(pushed_requests.c.params).where(*_PUSHED_LIVE))
TAKE_PUSHED_REQUEST = Query(delete(pushed_requests).where(*_PUSHED_LIVE).returning(pushed_requests.c.params))

# connected apps (the user's grants, by client)
LIST_USER_GRANTS = Query(
    select(*columns(grants, Grant), grants.c.last_used_at)
    .where(grants.c.user_id == bindparam("user_id"), grants.c.revoked_at.is_(None))
    .order_by(grants.c.created_at, grants.c.id)
)
FIND_CLIENT_NAME = Query(select(clients.c.name).where(clients.c.client_id == bindparam("client_id")))
FIND_URL_CLIENT_NAME = Query(select(url_clients.c.name).where(url_clients.c.client_id == bindparam("client_id")))
FIND_MIAUTH_NAME = Query(select(miauth_sessions.c.name).where(miauth_sessions.c.session == bindparam("session")))


# DPoP proofs: insert-or-fail, RETURNING the digest only when this insert made the row
USE_DPOP_PROOF = Query(
    {
        name: insert_of(dpop_proofs)
        .values(digest=bindparam("digest"), expires_at=bindparam("expires_at"))
        .on_conflict_do_nothing()
        .returning(dpop_proofs.c.digest)
        for name, insert_of in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
    }
)


# purge: rows past their use, deleted in bounded batches (sekisho.server.purge)
def _purge(table: Any, key: Any, *conditions: Any) -> Query:
    doomed = select(key).where(*conditions).limit(bindparam("batch"))
    return Query(delete(table).where(key.in_(doomed.scalar_subquery())).returning(key))


_GRANT_HAS_TOKENS = (
    select(access_tokens.c.digest).where(access_tokens.c.grant_id == grants.c.id).exists(),
    select(refresh_tokens.c.digest).where(refresh_tokens.c.grant_id == grants.c.id).exists(),
)
PURGES: dict[str, Query] = {
    # Consumed codes are kept a while past expiry, so that a replay can still revoke what the code gave.
    "authorization_codes": _purge(
        authorization_codes, authorization_codes.c.digest, authorization_codes.c.expires_at < bindparam("cutoff")
    ),
    "access_tokens": _purge(access_tokens, access_tokens.c.digest, access_tokens.c.expires_at < bindparam("cutoff")),
    # A consumed refresh token is kept until it expires: reuse detection needs it.
    "refresh_tokens": _purge(
        refresh_tokens,
        refresh_tokens.c.digest,
        (refresh_tokens.c.expires_at < bindparam("cutoff"))
        | (refresh_tokens.c.absolute_expires_at < bindparam("cutoff")),
    ),
    "sessions": _purge(sessions, sessions.c.digest, sessions.c.expires_at < bindparam("cutoff")),
    "url_clients": _purge(url_clients, url_clients.c.client_id, url_clients.c.expires_at < bindparam("cutoff")),
    # A device code is of no use once expired: a poll then learns only that it expired.
    "dpop_proofs": _purge(dpop_proofs, dpop_proofs.c.digest, dpop_proofs.c.expires_at < bindparam("cutoff")),
    "device_codes": _purge(device_codes, device_codes.c.digest, device_codes.c.expires_at < bindparam("cutoff")),
    "pushed_requests": _purge(
        pushed_requests, pushed_requests.c.digest, pushed_requests.c.expires_at < bindparam("cutoff")
    ),
    "miauth_sessions": _purge(
        miauth_sessions, miauth_sessions.c.session, miauth_sessions.c.expires_at < bindparam("cutoff")
    ),
    "login_throttles": _purge(
        login_throttles,
        login_throttles.c.key,
        login_throttles.c.last_failure_at < bindparam("cutoff"),
        login_throttles.c.blocked_until < bindparam("now"),
    ),
    "registration_tokens": _purge(
        registration_tokens,
        registration_tokens.c.digest,
        or_(registration_tokens.c.expires_at < bindparam("cutoff"), registration_tokens.c.uses_left <= 0),
    ),
    # A dynamically registered client of which no grant is left (none ever made, or all revoked and purged): a
    # grant is made at consent and kept while any of its tokens is, and such a client gets no other kind of token.
    "dynamic_clients": _purge(
        clients,
        clients.c.client_id,
        clients.c.dynamic == 1,
        clients.c.created_at < bindparam("cutoff"),
        ~select(grants.c.id).where(grants.c.client_id == clients.c.client_id).exists(),
    ),
    # A revoked grant disappears from /settings/apps once none of its tokens is left.
    "grants": _purge(
        grants,
        grants.c.id,
        grants.c.revoked_at.is_not(None),
        grants.c.revoked_at < bindparam("cutoff"),
        ~_GRANT_HAS_TOKENS[0],
        ~_GRANT_HAS_TOKENS[1],
    ),
}
