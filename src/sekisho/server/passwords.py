"""argon2id password hashes at the OWASP minimum (m=19 MiB, t=2, p=1), computed off the event loop."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified for unknown users too, so that timing does not tell which usernames exist.
_DUMMY_HASH = HASHER.hash("sekisho-dummy-password")

MIN_LENGTH = 8
MAX_LENGTH = 1024

# One hash per core this process may run on (argon2 releases the GIL): more threads only add 19 MiB each and make
# every hash wait longer, as asyncio.to_thread's default pool of cores + 4 did (6 hashes on one core: p50 1.6 s).
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_HASHING = ThreadPoolExecutor(max_workers=_CORES, thread_name_prefix="sekisho-argon2")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, HASHER.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if the password matches; a None hash costs the same as a real one."""
    real = stored_hash is not None
    return await asyncio.get_running_loop().run_in_executor(
        _HASHING, _verify, stored_hash or _DUMMY_HASH, password, real
    )


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
