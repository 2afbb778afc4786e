"""Misskey's dialect of the notes API: POST /api/i, /api/notes/create, /api/notes/show, /api/notes/delete."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.demo.encoding import json_response
from sekisho.errors import InsufficientScope, InvalidToken, OAuthError, TemporarilyUnavailable
from sekisho.protocol.params import is_unicode
from sekisho.resource import TokenVerifier
from sekisho.resource.asgi import route
from sekisho.resource.starlette import bearer_token, challenge_headers
from sekisho.server.entities import Note, User
from sekisho.server.ids import new_id

MAX_TEXT = 3000
VISIBILITIES = ("public", "home", "followers", "specified")
MAX_BODY = 64 * 1024
KNOWN_USERS = 10_000  # users kept in memory by id (a few hundred bytes each)


class NotesStore(Protocol):
    async def find_user(self, user_id: str) -> User | None: ...
    async def add_note(self, note: Note) -> None: ...
    async def find_note(self, note_id: str) -> Note | None: ...
    async def delete_note(self, note_id: str, user_id: str) -> bool: ...


@dataclass(frozen=True)
class MisskeyError(Exception):
    """Misskey's error body: {"error": {"message", "code", "id", "kind"}}."""

    status: int
    code: str
    id: str
    message: str

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"error": {"message": self.message, "code": self.code, "id": self.id, "kind": "client"}}
        return JSONResponse(body, status_code=self.status, headers=headers)


def invalid_param(message: str) -> MisskeyError:
    return MisskeyError(400, "INVALID_PARAM", "3d81ceae-475f-4600-b2a8-2bc116157532", message)


NO_SUCH_NOTE = MisskeyError(400, "NO_SUCH_NOTE", "24fcbfc6-2e37-42b6-8388-c29b3861a08d", "No such note.")


UNAVAILABLE_ID = "8a1fb2b0-2d55-4a34-9c43-fa1a4d0e5b64"  # Misskey's ids are UUIDs; this one is sekisho's


def _token_error(error: OAuthError) -> JSONResponse:
    if isinstance(error, TemporarilyUnavailable):
        body = {"message": error.description, "code": "TEMPORARILY_UNAVAILABLE", "id": UNAVAILABLE_ID, "kind": "server"}
        return JSONResponse({"error": body}, status_code=503, headers=challenge_headers(error))
    if isinstance(error, InsufficientScope):
        found = MisskeyError(403, "PERMISSION_DENIED", "1370e5b7-d4eb-4566-bb1d-7748ee6a1838", error.description)
    else:
        found = MisskeyError(401, "AUTHENTICATION_FAILED", "b0a7f5f8-dc2f-4171-b91f-de88ad238e14", error.description)
    return found.response(challenge_headers(error))


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def pack_user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.username,
        "host": None,
        "createdAt": iso(user.created_at),
    }


def pack_note(note: Note, user: User) -> dict[str, Any]:
    return {
        "id": note.id,
        "createdAt": iso(note.created_at),
        "userId": note.user_id,
        "user": {"id": user.id, "username": user.username, "name": user.username, "host": None},
        "text": note.text,
        "cw": note.cw,
        "visibility": note.visibility,
    }


def visible_to(note: Note, user: User) -> bool:
    """Misskey's visibility rules: `public` and `home` notes to everyone, any note to its author. `followers` goes to
    the author only (there is no follow graph), `specified` too (a note keeps no list of the users it names)."""
    return note.visibility in ("public", "home") or note.user_id == user.id


class NotesApi:
    """What both dialects share: the store, the token verifier, the clock, and the user a token acts for."""

    def __init__(self, store: NotesStore, verifier: TokenVerifier, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.verifier = verifier
        self.clock = clock
        self._users: OrderedDict[str, User] = OrderedDict()  # LRU of users by id; see acting_user

    async def acting_user(self, token: str, scope: str | None) -> User:
        """The user the token acts for, if it carries `scope`; else InvalidToken / InsufficientScope."""
        info = await self.verifier.verify(token)
        if scope is not None:
            info.require(scope)
        user = await self._user(info.user_id) if info.user_id else None
        if user is None:
            raise InvalidToken("this token does not act for a user")
        return user

    async def find_visible_note(self, note_id: str, user: User) -> Note | None:
        """The note if `user` may see it; else None, as for a note that does not exist (no leak of its existence)."""
        note = await self.store.find_note(note_id)
        return note if note is not None and visible_to(note, user) else None

    async def _user(self, user_id: str) -> User | None:
        """The user, from memory once seen (one database round trip less per call).

        Safe with a verifier that looks the token up (the app's StoreVerifier): removing a user deletes its tokens in
        the same transaction, so a user whose token was just found still exists; an id never names another user, and
        nothing the API shows of a user (id, name, creation) ever changes."""
        user = self._users.get(user_id)
        if user is not None:
            self._users.move_to_end(user_id)
            return user
        user = await self.store.find_user(user_id)
        if user is not None:
            self._users[user_id] = user
            if len(self._users) > KNOWN_USERS:
                self._users.popitem(last=False)
        return user


class MisskeyApi(NotesApi):
    def routes(self) -> list[Route]:
        return [
            route("/api/i", self.endpoint(self.me, "read:account"), ["POST"]),
            route("/api/notes/create", self.endpoint(self.create, "write:notes"), ["POST"]),
            route("/api/notes/show", self.endpoint(self.show, None), ["POST"]),
            route("/api/notes/delete", self.endpoint(self.delete, "write:notes"), ["POST"]),
        ]

    def endpoint(self, action: Any, scope: str | None) -> Any:
        async def handle(request: Request) -> Response:
            try:
                body = await read_body(request)
                user = await self.authenticate(request, body, scope)
                result = await action(body, user)
                return Response(status_code=204) if result is None else json_response(result)
            except MisskeyError as error:
                return error.response()
            except OAuthError as error:
                return _token_error(error)

        return handle

    async def authenticate(self, request: Request, body: dict[str, Any], scope: str | None) -> User:
        body_token = body.pop("i", None)
        if body_token is not None and not isinstance(body_token, str):
            raise invalid_param("i must be a string")
        return await self.acting_user(bearer_token(request, body_token), scope)

    async def me(self, body: dict[str, Any], user: User) -> dict[str, Any]:
        return pack_user(user)

    async def create(self, body: dict[str, Any], user: User) -> dict[str, Any]:
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise invalid_param(f"text must be a string of 1-{MAX_TEXT} characters")
        visibility = body.get("visibility", "public")
        if visibility not in VISIBILITIES:
            raise invalid_param(f"visibility must be one of {', '.join(VISIBILITIES)}")
        cw = body.get("cw")
        if cw is not None and (not isinstance(cw, str) or len(cw) > 100):
            raise invalid_param("cw must be a string of at most 100 characters")
        now = self.clock()
        note = Note(
            id=new_id(int(now * 1000)),
            user_id=user.id,
            text=text,
            visibility=visibility,
            cw=cw,
            created_at=int(now),
        )
        await self.store.add_note(note)
        return {"createdNote": pack_note(note, user)}

    async def show(self, body: dict[str, Any], user: User) -> dict[str, Any]:
        note = await self.find_visible_note(_note_id(body), user)
        author = await self.store.find_user(note.user_id) if note else None
        if note is None or author is None:
            raise NO_SUCH_NOTE
        return pack_note(note, author)

    async def delete(self, body: dict[str, Any], user: User) -> Any:
        if not await self.store.delete_note(_note_id(body), user.id):
            raise NO_SUCH_NOTE
        return None


def _note_id(body: dict[str, Any]) -> str:
    note_id = body.get("noteId")
    if not isinstance(note_id, str) or not 0 < len(note_id) <= 64:
        raise invalid_param("noteId must be a note id")
    return note_id


def plausible_note_id(text: str) -> bool:
    """Worth a look-up: 1-64 visible characters (ids are base36; a NUL would even fail PostgreSQL's query)."""
    return 0 < len(text) <= 64 and text.isprintable()


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object body, in Misskey's error shape when it is not one."""
    try:
        return await read_json_object(request)
    except ValueError as exc:
        raise invalid_param(str(exc)) from exc


async def read_json_object(request: Request) -> dict[str, Any]:
    """A JSON object body (empty: {}); ValueError with a one-line reason otherwise."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValueError("the request body is too large")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))  # RFC 8259 §8.1: UTF-8 only, no guessing
    except (ValueError, RecursionError) as exc:
        raise ValueError("the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    if problem := _unstorable(body):
        raise ValueError(problem)
    return body


def _unstorable(document: Any) -> str | None:
    """Why a string of the parsed JSON, names included, cannot be stored, if one cannot: a "\\ud800" escape parses to
    a lone surrogate, which UTF-8 cannot hold, and a "\\u0000" to a NUL, which PostgreSQL's text cannot. One walk, a
    loop (the nesting may be deep)."""
    pending, nul = [document], False
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and not is_unicode(value):
                return "the body must be valid Unicode"
            nul = nul or "\x00" in value
        elif isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
    return "the body must not contain NUL characters" if nul else None
