"""X's per-user rate limits, for the stand-in: the `x-rate-limit-*` headers on every answer, and, opt-in
(`serve --x-rate-limits`), X's 429 once a user's window is spent, so a bot's back-off can be tested.

X counts requests per endpoint and user in 15-minute windows and tells where a caller stands in
`x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch seconds); past the limit it answers
429 until the reset (https://docs.x.com/x-api/fundamentals/rate-limits). The figures are X's per-user ones
(POST and DELETE /2/tweets: https://docs.x.com/x-api/posts/manage-tweets/introduction). Counts live in the
process's memory: with `--workers N`, each worker counts on its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

WINDOW: Final = 15 * 60
LIMITS: Final[Mapping[str, int]] = {
    "GET /2/users/me": 75,
    "GET /2/users/{id}": 900,
    "GET /2/users/{id}/tweets": 900,
    "GET /2/tweets": 900,
    "GET /2/tweets/{id}": 900,
    "POST /2/tweets": 200,
    "DELETE /2/tweets/{id}": 50,
}
KEPT: Final = 100_000  # windows kept in memory; the oldest go first


@dataclass(slots=True)
class Window:
    reset: int  # epoch seconds
    used: int = 0


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a user stands on one endpoint after a request: the headers to send, and whether to refuse it."""

    limit: int
    remaining: int
    reset: int
    refused: bool

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset),
        }


class RateLimits:
    """Per-user windows by endpoint. `enforce`: refuse past the limit (else only count and tell)."""

    def __init__(
        self, clock: Callable[[], float], *, enforce: bool = False, limits: Mapping[str, int] = LIMITS
    ) -> None:
        self.clock, self.enforce, self.limits = clock, enforce, limits
        self._windows: OrderedDict[tuple[str, str], Window] = OrderedDict()

    def take(self, endpoint: str, user_id: str) -> Standing:
        """Count one request of `user_id` to `endpoint`, unless it is refused."""
        limit = self.limits[endpoint]
        now = int(self.clock())
        key = (endpoint, user_id)
        window = self._windows.get(key)
        if window is None or window.reset <= now:
            window = self._windows[key] = Window(now + WINDOW)
            if len(self._windows) > KEPT:
                self._windows.popitem(last=False)
        refused = self.enforce and window.used >= limit
        if not refused:
            window.used += 1
        return Standing(limit, max(limit - window.used, 0), window.reset, refused)
