"""`Users` over SQL: accounts and login sessions."""

from __future__ import annotations

from sekisho.server.entities import User
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database
from sekisho.server.store.sql.rows import delete_with_dependents, params


class SqlUsers:
    """Implements `sekisho.server.store.Users`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._read = database.reader()
        self._write = database.writer()

    async def add(self, user: User) -> None:
        await self._write.execute(q.INSERT_USER, **params(user))

    async def find(self, user_id: str) -> User | None:
        row = await self._read.fetch_one(q.FIND_USER, id=user_id)
        return User(*row) if row else None

    async def find_by_name(self, username: str) -> User | None:
        row = await self._read.fetch_one(q.FIND_USER_BY_NAME, username=username)
        return User(*row) if row else None

    async def all(self) -> list[User]:
        return [User(*row) for row in await self._read.fetch_all(q.LIST_USERS)]

    async def count(self) -> int:
        row = await self._read.fetch_one(q.COUNT_USERS)
        return int(row[0]) if row else 0

    async def set_password(self, user_id: str, password_hash: str) -> None:
        await self._write.execute(q.UPDATE_PASSWORD, id=user_id, password_hash=password_hash)

    async def remove(self, user_id: str) -> bool:
        """The user and everything of theirs, in one transaction; False if there was no such user."""
        dependents = (
            q.DELETE_USER_CODES,
            q.DELETE_USER_ACCESS_TOKENS,
            q.DELETE_USER_REFRESH_TOKENS,
            q.DELETE_USER_SESSIONS,
            q.DELETE_USER_DEVICE_CODES,
            q.DELETE_USER_GRANTS,
            q.DELETE_USER_NOTES,
        )
        return await delete_with_dependents(self._database, dependents, q.DELETE_USER, id=user_id)

    async def create_session(self, digest: str, user_id: str, now: int, expires_at: int) -> None:
        await self._write.execute(
            q.INSERT_SESSION, digest=digest, user_id=user_id, created_at=now, expires_at=expires_at
        )

    async def find_session_user(self, digest: str, now: int) -> User | None:
        row = await self._read.fetch_one(q.FIND_SESSION_USER, digest=digest, now=now)
        return User(*row) if row else None

    async def delete_session(self, digest: str) -> None:
        await self._write.execute(q.DELETE_SESSION, digest=digest)
