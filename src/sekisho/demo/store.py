"""The demo's notes: its statements over the `notes` table, run on the server store's database, and its users read
through the server's store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, column, delete, insert, select, table
from sqlalchemy.sql.base import Executable

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

    async def find_user(self, user_id: str) -> User | None: ...
    async def find_user_by_name(self, username: str) -> User | None: ...


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
        # A page of a user's notes, newest first, in the visibilities given (four slots: repeat to give fewer).
        page = (
            select(*_COLUMNS)
            .where(
                _NOTES.c.user_id == bindparam("user_id"),
                _NOTES.c.visibility.in_([bindparam(f"v{slot}") for slot in range(4)]),
            )
            .order_by(_NOTES.c.id.desc())
            .limit(bindparam("limit"))
        )
        self._page = prepare(page)
        self._page_before = prepare(page.where(_NOTES.c.id < bindparam("before")))

    async def find_user(self, user_id: str) -> User | None:
        return await self.store.find_user(user_id)

    async def find_user_by_name(self, username: str) -> User | None:
        return await self.store.find_user_by_name(username)

    async def add_note(self, note: Note) -> None:
        row = {name: getattr(note, name) for name in _NOTES.c.keys()}
        await self.store.database.writer().execute(self._insert, **row)

    async def find_note(self, note_id: str) -> Note | None:
        row = await self.store.database.reader().fetch_one(self._find, id=note_id)
        return Note(*row) if row else None

    async def delete_note(self, note_id: str, user_id: str) -> bool:
        deleted = await self.store.database.writer().fetch_one(self._delete, id=note_id, user_id=user_id)
        return deleted is not None

    async def list_user_notes(self, user_id: str) -> list[Note]:
        return [Note(*row) for row in await self.store.database.reader().fetch_all(self._list, user_id=user_id)]

    async def list_user_notes_page(
        self, user_id: str, *, visibilities: Sequence[str], limit: int, before: str | None = None
    ) -> list[Note]:
        """Up to `limit` of the user's notes in `visibilities` (one to four), newest first, older than `before` if
        given (note ids sort by time)."""
        slots = {f"v{slot}": visibilities[slot % len(visibilities)] for slot in range(4)}
        params: dict[str, Any] = {"user_id": user_id, "limit": limit, **slots}
        query = self._page if before is None else self._page_before
        if before is not None:
            params["before"] = before
        return [Note(*row) for row in await self.store.database.reader().fetch_all(query, **params)]
