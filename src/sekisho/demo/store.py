"""The demo's notes: its statements over the `notes` table, run on the server store's database, and its users read
through the server's store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import String, bindparam, column, delete, insert, literal_column, or_, select, table
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from sekisho.resource.dpop import ReplayCache
from sekisho.server.entities import Note, User

LISTED = 100  # notes on a user's page

_NOTES = table(
    "notes",
    column("id"),
    column("user_id"),
    column("text"),
    column("visibility"),
    column("cw"),
    column("created_at"),
    column("reply_id"),
    column("local_only"),
)
_COLUMNS = tuple(_NOTES.c)


class Connection(Protocol):
    async def fetch_one(self, query: Any, **params: Any) -> Sequence[Any] | None: ...
    async def fetch_all(self, query: Any, **params: Any) -> list[Sequence[Any]]: ...
    async def execute(self, query: Any, **params: Any) -> None: ...


class Database(Protocol):
    def reader(self) -> Connection: ...
    def writer(self) -> Connection: ...


class ServerStore(Protocol):
    """What the demo uses of the server's store: its users, and its database once connected."""

    @property
    def database(self) -> Database: ...

    @property
    def users(self) -> Users: ...

    @property
    def proofs(self) -> ReplayCache: ...


class Users(Protocol):
    """What the demo reads of the server's users (sekisho.server.store.Users)."""

    async def find(self, user_id: str) -> User | None: ...
    async def find_by_name(self, username: str) -> User | None: ...


@dataclass(frozen=True)
class Page:
    """Which notes of a list to return, as Misskey pages them (QueryService.makePaginationQuery): ids after
    `since_id` and/or before `until_id`, at most `limit`; newest first, except with only `since_id`, which answers
    the oldest ones after it first."""

    limit: int
    since_id: str | None = None
    until_id: str | None = None

    @property
    def key(self) -> tuple[bool, bool]:
        return self.since_id is not None, self.until_id is not None


def _note(row: Sequence[Any]) -> Note:
    note_id, user_id, text, visibility, cw, created_at, reply_id, local_only = row
    return Note(note_id, user_id, text, visibility, cw, created_at, reply_id, bool(local_only))


class NotesStore:
    """Notes in the server's database; `prepare` turns a Core statement into what its connections run (the
    server's compiled `Query`), so each statement is compiled once per dialect."""

    def __init__(self, store: ServerStore, prepare: Callable[[Executable], Any]) -> None:
        self.store = store
        self._insert = prepare(insert(_NOTES).values({name: bindparam(name) for name in _NOTES.c.keys()}))
        self._find = prepare(select(*_COLUMNS).where(_NOTES.c.id == bindparam("id")))
        self._delete = prepare(
            delete(_NOTES)
            .where(_NOTES.c.id == bindparam("id"), _NOTES.c.user_id == bindparam("user_id"))
            .returning(_NOTES.c.id)
        )
        self._list = prepare(
            select(*_COLUMNS).where(_NOTES.c.user_id == bindparam("user_id")).order_by(_NOTES.c.id.desc()).limit(LISTED)
        )
        self._prepare = prepare
        self._pages: dict[tuple[str, bool, bool], Any] = {}  # statements of list_page, prepared on first use
        # A page of a user's notes, newest first, in the visibilities given (four slots: repeat to give fewer).
        user_page = (
            select(*_COLUMNS)
            .where(
                _NOTES.c.user_id == bindparam("user_id"),
                _NOTES.c.visibility.in_([bindparam(f"v{slot}") for slot in range(4)]),
            )
            .order_by(_NOTES.c.id.desc())
            .limit(bindparam("limit"))
        )
        self._user_page = prepare(user_page)
        self._user_page_before = prepare(user_page.where(_NOTES.c.id < bindparam("before")))

    async def find_user(self, user_id: str) -> User | None:
        return await self.store.users.find(user_id)

    async def find_user_by_name(self, username: str) -> User | None:
        return await self.store.users.find_by_name(username)

    async def add_note(self, note: Note) -> None:
        row = {name: getattr(note, name) for name in _NOTES.c.keys()}
        row["local_only"] = int(note.local_only)
        await self.store.database.writer().execute(self._insert, **row)

    async def find_note(self, note_id: str) -> Note | None:
        row = await self.store.database.reader().fetch_one(self._find, id=note_id)
        return _note(row) if row else None

    async def delete_note(self, note_id: str, user_id: str) -> bool:
        deleted = await self.store.database.writer().fetch_one(self._delete, id=note_id, user_id=user_id)
        return deleted is not None

    async def list_user_notes(self, user_id: str) -> list[Note]:
        return [_note(row) for row in await self.store.database.reader().fetch_all(self._list, user_id=user_id)]

    async def list_user_notes_page(
        self, user_id: str, *, visibilities: Sequence[str], limit: int, before: str | None = None
    ) -> list[Note]:
        """Up to `limit` of the user's notes in `visibilities` (one to four), newest first, older than `before` if
        given (note ids sort by time)."""
        slots = {f"v{slot}": visibilities[slot % len(visibilities)] for slot in range(4)}
        params: dict[str, Any] = {"user_id": user_id, "limit": limit, **slots}
        query = self._user_page if before is None else self._user_page_before
        if before is not None:
            params["before"] = before
        return [_note(row) for row in await self.store.database.reader().fetch_all(query, **params)]

    async def home_timeline(self, user_id: str, page: Page) -> list[Note]:
        """The user's own notes, all visibilities (the home timeline of a user who follows nobody)."""
        return await self._page("home", page, user_id=user_id)

    async def local_timeline(self, page: Page, *, with_replies: bool) -> list[Note]:
        """Everyone's `public` notes; replies only if `with_replies`."""
        return await self._page("local+replies" if with_replies else "local", page)

    async def user_notes(self, user_id: str, viewer_id: str | None, page: Page, *, with_replies: bool) -> list[Note]:
        """A user's notes that `viewer_id` (None: nobody signed in) may see: `public` and `home` ones, and all of
        them to their author (demo.notes.visible_to's rules, in SQL)."""
        kind = "user+replies" if with_replies else "user"
        return await self._page(kind, page, user_id=user_id, viewer_id=viewer_id)

    async def _page(self, kind: str, page: Page, **params: Any) -> list[Note]:
        statement = self._pages.get((kind, *page.key))
        if statement is None:
            statement = self._pages[(kind, *page.key)] = self._prepare(_page_statement(kind, *page.key))
        bounds = {name: value for name, value in (("since_id", page.since_id), ("until_id", page.until_id)) if value}
        rows = await self.store.database.reader().fetch_all(statement, **params, **bounds, limit=page.limit)
        return [_note(row) for row in rows]


# constants in the SQL text, not parameters
_PUBLIC: ColumnElement[str] = literal_column("'public'", String)
_HOME: ColumnElement[str] = literal_column("'home'", String)


def _filters(kind: str) -> list[ColumnElement[bool]]:
    c = _NOTES.c
    if kind == "home":
        return [c.user_id == bindparam("user_id")]
    if kind.startswith("local"):
        return [c.visibility == _PUBLIC, *([] if kind.endswith("+replies") else [c.reply_id.is_(None)])]
    viewer = bindparam("viewer_id", type_=String)
    return [
        c.user_id == bindparam("user_id"),
        or_(c.visibility == _PUBLIC, c.visibility == _HOME, c.user_id == viewer),
        *([] if kind.endswith("+replies") else [c.reply_id.is_(None)]),
    ]


def _page_statement(kind: str, since: bool, until: bool) -> Executable:
    c = _NOTES.c
    where = _filters(kind)
    if since:
        where.append(c.id > bindparam("since_id"))
    if until:
        where.append(c.id < bindparam("until_id"))
    order = c.id.asc() if since and not until else c.id.desc()
    return select(*_COLUMNS).where(*where).order_by(order).limit(bindparam("limit"))
