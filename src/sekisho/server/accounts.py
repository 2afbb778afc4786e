"""Users: creation with username and password rules, and password login."""

from __future__ import annotations

import re

from sekisho.server import passwords
from sekisho.server.entities import User
from sekisho.server.ids import new_id
from sekisho.server.store import Store

# Misskey's rule for usernames: letters, digits and underscores.
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")


class AccountError(ValueError):
    """A refused account operation; the message is one line for the user."""


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise AccountError("a username is 1-64 letters, digits or underscores")
    return username


def is_username(text: str) -> bool:
    return bool(_USERNAME.fullmatch(text))


async def create_user(store: Store, username: str, password: str, now: int) -> User:
    check_username(username)
    try:
        passwords.check_password_rules(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    if await store.users.find_by_name(username) is not None:
        raise AccountError(f"a user named {username!r} already exists")
    user = User(
        id=new_id(now * 1000),
        username=username,
        password_hash=await passwords.hash_password(password),
        created_at=now,
    )
    await store.users.add(user)
    return user


async def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user if the password is right; the same work is done for unknown usernames."""
    user = await store.users.find_by_name(username) if is_username(username) else None
    ok = await passwords.verify_password(user.password_hash if user else None, password)
    return user if ok else None
