"""Record ids: time-sortable like Misskey's `aid` (base36 milliseconds, then random), unique without a lock."""

from __future__ import annotations

import secrets
import time

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        chars.append(_DIGITS[rest])
    return "".join(reversed(chars))


def new_id(now_ms: int | None = None) -> str:
    """Nine characters of time, then eight random ones: sorts by creation time."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return _base36(millis, 9) + _base36(secrets.randbits(41), 8)
