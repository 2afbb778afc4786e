"""GET /@{username}: a user's public notes, newest first, a page of them at a time, so a person can see what a bot
posted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from sekisho.demo.store import LISTED, NotesStore
from sekisho.errors import InvalidRequest

SHOWN = ("public", "home")  # the visibilities anyone may see
PAGE_SIZE = 20


class Render(Protocol):
    """The server's page renderer: a template of its own with its security headers and the site's header."""

    def __call__(self, request: Request, template: str, status: int = 200, **context: Any) -> Awaitable[Response]: ...


def plausible_username(text: str) -> bool:
    """Worth a look-up: 1-64 visible characters (a NUL would even fail PostgreSQL's query)."""
    return 0 < len(text) <= 64 and text.isprintable()


def page_number(text: str | None) -> int:
    """`?page=N`, 1 when absent; anything but a small positive whole number is a 400, never a 500."""
    if text is None:
        return 1
    if not (text.isdigit() and len(text) <= 4 and int(text) >= 1):
        raise InvalidRequest("page must be a whole number from 1")
    return int(text)


def user_page(store: NotesStore, render: Render) -> Callable[[Request], Awaitable[Response]]:
    async def user_notes(request: Request) -> Response:
        username = request.path_params["username"]
        number = page_number(request.query_params.get("page"))
        user = await store.find_user_by_name(username) if plausible_username(username) else None
        if user is None:
            raise InvalidRequest("there is no user with that name", status=404)
        listed = await store.list_user_notes(user.id)  # the latest LISTED, newest first
        notes = [note for note in listed if note.visibility in SHOWN]
        start = (number - 1) * PAGE_SIZE
        return await render(
            request,
            "user.html",
            username=user.username,
            notes=notes[start : start + PAGE_SIZE],
            count=len(notes),
            capped=len(listed) >= LISTED,  # older notes exist beyond the latest LISTED
            page=number,
            newer=number - 1 if number > 1 else None,
            older=number + 1 if start + PAGE_SIZE < len(notes) else None,
            when=when,
        )

    return user_notes


def when(seconds: int | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC") if seconds else "never"
