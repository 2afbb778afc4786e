"""argon2id password hashes at the OWASP minimum (m=19 MiB, t=2, p=1), computed off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified for unknown users too, so that timing does not tell which usernames exist.
_DUMMY_HASH = HASHER.hash("sekisho-dummy-password")

MIN_LENGTH = 8
MAX_LENGTH = 1024


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches; a None hash costs the same as a real one."""
    return await asyncio.to_thread(_verify, stored_hash or _DUMMY_HASH, password, stored_hash is not None)


def _verify(stored_hash: str, password: str, real: bool) -> bool:
    try:
        return HASHER.verify(stored_hash, password[:MAX_LENGTH]) and real
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    """Raise ValueError with a one-line reason for a password that cannot be accepted."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"the password must be at most {MAX_LENGTH} characters")
