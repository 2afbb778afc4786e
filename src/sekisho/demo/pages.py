"""GET /@{username}: a user's public notes, newest first, so a person can see what a bot posted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from sekisho.demo.store import NotesStore
from sekisho.errors import InvalidRequest

SHOWN = ("public", "home")  # the visibilities anyone may see


class Render(Protocol):
    """The server's page renderer: a template of its own with its security headers."""

    def __call__(self, request: Request, template: str, status: int = 200, **context: Any) -> Response: ...


def plausible_username(text: str) -> bool:
    """Worth a look-up: 1-64 visible characters (a NUL would even fail PostgreSQL's query)."""
    return 0 < len(text) <= 64 and text.isprintable()


def user_page(store: NotesStore, render: Render) -> Callable[[Request], Awaitable[Response]]:
    async def user_notes(request: Request) -> Response:
        username = request.path_params["username"]
        user = await store.find_user_by_name(username) if plausible_username(username) else None
        if user is None:
            raise InvalidRequest("there is no user with that name", status=404)
        notes = [note for note in await store.list_user_notes(user.id) if note.visibility in SHOWN]
        return render(request, "user.html", username=user.username, notes=notes, when=when)

    return user_notes


def when(seconds: int | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC") if seconds else "never"
