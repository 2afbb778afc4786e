"""Misskey's dialect of the notes API (POST /api/…), and what both dialects share (NotesApi).

Endpoints: `i`, `meta`, `notes/create`, `notes/show`, `notes/delete`, `notes/timeline`, `notes/local-timeline`,
`users/show`, `users/notes`; each declares, as Misskey's endpoints/*.ts do, whether it needs a credential
(`requireCredential`) and which permission (`kind`). docs/misskey-stand-in.md lists what is emulated and from where.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from sekisho.demo import misskey_params as params
from sekisho.demo.encoding import json_response
from sekisho.demo.meta import MAX_NOTE_TEXT_LENGTH, meta
from sekisho.demo.misskey_errors import (
    NO_SUCH_NOTE,
    NO_SUCH_NOTE_TO_DELETE,
    NO_SUCH_REPLY_TARGET,
    NO_SUCH_USER,
    MisskeyError,
    credential_required,
    from_token_error,
    invalid_param,
)
from sekisho.demo.store import Page
from sekisho.errors import InvalidToken, OAuthError
from sekisho.protocol.params import is_unicode
from sekisho.resource import ProtectedResource, TokenVerifier
from sekisho.resource.asgi import route
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.starlette import token_of
from sekisho.server.entities import Note, User
from sekisho.server.ids import new_id

MAX_TEXT = MAX_NOTE_TEXT_LENGTH
MAX_CW = 100  # notes/create.ts: `cw: { type: 'string', nullable: true, maxLength: 100 }`
VISIBILITIES = ("public", "home", "followers", "specified")
MAX_BODY = 64 * 1024
KNOWN_USERS = 10_000  # users kept in memory by id (a few hundred bytes each)
QUERY_TOKEN_NAMES = ("i", "access_token", "token")  # a token in a URL leaks into logs: refused, never read


class NotesStore(Protocol):
    async def find_user(self, user_id: str) -> User | None: ...
    async def add_note(self, note: Note) -> None: ...
    async def find_note(self, note_id: str) -> Note | None: ...
    async def delete_note(self, note_id: str, user_id: str) -> bool: ...
    async def find_user_by_name(self, username: str) -> User | None: ...
    async def home_timeline(self, user_id: str, page: Page) -> list[Note]: ...
    async def local_timeline(self, page: Page, *, with_replies: bool) -> list[Note]: ...
    async def user_notes(
        self, user_id: str, viewer_id: str | None, page: Page, *, with_replies: bool
    ) -> list[Note]: ...


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def pack_user_lite(user: User) -> dict[str, Any]:
    """Misskey's UserLite (misskey-js autogen/models.ts): a local user without avatar, emojis or badges."""
    return {
        "id": user.id,
        "name": user.username,
        "username": user.username,
        "host": None,
        "avatarUrl": None,
        "avatarBlurhash": None,
        "avatarDecorations": [],
        "isBot": False,
        "isCat": False,
        "emojis": {},
        "onlineStatus": "unknown",
        "badgeRoles": [],
    }


def pack_user(user: User) -> dict[str, Any]:
    """Misskey's UserDetailed as far as sekisho knows it: no profile, no follows, no pinned notes."""
    return {
        **pack_user_lite(user),
        "createdAt": iso(user.created_at),
        "updatedAt": None,
        "description": None,
        "location": None,
        "birthday": None,
        "fields": [],
        "followersCount": 0,
        "followingCount": 0,
        "pinnedNoteIds": [],
        "pinnedNotes": [],
        "isLocked": False,
        "isSuspended": False,
        "url": None,
        "uri": None,
    }


def pack_note(note: Note, user: User) -> dict[str, Any]:
    """Misskey's Note: no files, polls, renotes or reactions here, so those fields are empty."""
    return {
        "id": note.id,
        "createdAt": iso(note.created_at),
        "userId": note.user_id,
        "user": pack_user_lite(user),
        "text": note.text,
        "cw": note.cw,
        "visibility": note.visibility,
        "localOnly": note.local_only,
        "reactionAcceptance": None,
        "replyId": note.reply_id,
        "renoteId": None,
        "fileIds": [],
        "files": [],
        "tags": [],
        "mentions": [],
        "emojis": {},
        "reactionEmojis": {},
        "reactions": {},
        "reactionCount": 0,
        "renoteCount": 0,
    }


def visible_to(note: Note, user: User | None) -> bool:
    """Misskey's visibility rules: `public` and `home` notes to everyone, signed in or not; any note to its author.
    `followers` goes to the author only (there is no follow graph), `specified` too (a note keeps no list of the
    users it names)."""
    return note.visibility in ("public", "home") or (user is not None and note.user_id == user.id)


class NotesApi:
    """What both dialects share: the store, the token verifier, the clock, the resource server's metadata, and the
    user a token acts for."""

    def __init__(
        self,
        store: NotesStore,
        verifier: TokenVerifier,
        clock: Callable[[], float] = time.time,
        *,
        resource: ProtectedResource | None = None,
        dpop: DPoPGate | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.clock = clock
        self.resource = resource  # named by every challenge (RFC 9728 §5.1)
        self.dpop = dpop or DPoPGate(clock=clock)  # RFC 9449 §7: DPoP tokens with proofs; bound ones never as Bearer
        self._users: OrderedDict[str, User] = OrderedDict()  # LRU of users by id; see acting_user

    async def acting_user(self, token: str, scope: str | None, request: HTTPConnection) -> User:
        """The user the token acts for, if it carries `scope` and is presented as its DPoP binding asks; else
        InvalidToken / InvalidDPoPProof / InsufficientScope."""
        info = await self.dpop.confirm(await self.verifier.verify(token), request, token)
        if scope is not None:
            info.require(scope)
        user = await self._user(info.user_id) if info.user_id else None
        if user is None:
            raise InvalidToken("this token does not act for a user")
        return user

    async def find_visible_note(self, note_id: str, user: User | None) -> Note | None:
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


Action = Callable[[dict[str, Any], User | None, Request], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: what it does, whether it needs a token (`requireCredential`), which permission (`kind`)."""

    action: Action
    credential: bool
    kind: str | None = None


class MisskeyApi(NotesApi):
    """Misskey's endpoints, each `POST /api/<name>` with a JSON object body, answered as Misskey answers them."""

    def routes(self) -> list[Route]:
        endpoints = {
            "i": Endpoint(self.me, credential=True, kind="read:account"),
            "meta": Endpoint(self.meta, credential=False),
            "notes/create": Endpoint(self.create, credential=True, kind="write:notes"),
            "notes/show": Endpoint(self.show, credential=False),
            "notes/delete": Endpoint(self.delete, credential=True, kind="write:notes"),
            "notes/timeline": Endpoint(self.timeline, credential=True, kind="read:account"),
            "notes/local-timeline": Endpoint(self.local_timeline, credential=False),
            "users/show": Endpoint(self.user, credential=False),
            "users/notes": Endpoint(self.user_notes, credential=False),
        }
        return [route(f"/api/{name}", self.handler(endpoint), ["POST"]) for name, endpoint in endpoints.items()]

    def handler(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                body = await read_body(request)
                user = await self.authenticate(request, body, endpoint)
                result = await endpoint.action(body, user, request)
                return Response(status_code=204) if result is None else json_response(result)
            except MisskeyError as error:
                return error.response()

        return handle

    async def authenticate(self, request: Request, body: dict[str, Any], endpoint: Endpoint) -> User | None:
        """ApiCallService.ts's order: a token that was sent must be good, on every endpoint
        (AUTHENTICATION_FAILED); then an endpoint that needs one wants one (CREDENTIAL_REQUIRED); then the token's
        permission (PERMISSION_DENIED)."""
        try:
            token = presented_token(request, body)
            if token is None:
                if endpoint.credential:
                    raise credential_required(self.resource)
                return None
            return await self.acting_user(token, endpoint.kind, request)
        except OAuthError as error:
            raise from_token_error(error, self.resource, self.dpop.algorithms) from error

    async def me(self, body: dict[str, Any], user: User | None, request: Request) -> dict[str, Any]:
        assert user is not None  # requireCredential
        return pack_user(user)

    async def meta(self, body: dict[str, Any], user: User | None, request: Request) -> dict[str, Any]:
        return meta(str(request.base_url).rstrip("/"), detail=params.boolean(body, "detail", True))

    async def create(self, body: dict[str, Any], user: User | None, request: Request) -> dict[str, Any]:
        """notes/create.ts, for text notes: `text`, `visibility`, `cw`, `localOnly`, `replyId`."""
        assert user is not None  # requireCredential
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise invalid_param("text", f"must be a string of 1-{MAX_TEXT} characters")
        visibility = params.one_of(body, "visibility", VISIBILITIES, "public")
        cw = params.optional_string(body, "cw", MAX_CW)
        local_only = params.boolean(body, "localOnly", False)
        reply_id = params.misskey_id(body, "replyId", nullable=True)
        if reply_id is not None and await self.find_visible_note(reply_id, user) is None:
            raise NO_SUCH_REPLY_TARGET
        now = self.clock()
        note = Note(new_id(int(now * 1000)), user.id, text, visibility, cw, int(now), reply_id, local_only)
        await self.store.add_note(note)
        return {"createdNote": pack_note(note, user)}

    async def show(self, body: dict[str, Any], user: User | None, request: Request) -> dict[str, Any]:
        note_id = params.misskey_id(body, "noteId", required=True)
        note = await self.find_visible_note(str(note_id), user)
        author = await self._user(note.user_id) if note else None
        if note is None or author is None:
            raise NO_SUCH_NOTE
        return pack_note(note, author)

    async def delete(self, body: dict[str, Any], user: User | None, request: Request) -> None:
        """notes/delete.ts: NO_SUCH_NOTE for a note one cannot see, ACCESS_DENIED for someone else's."""
        assert user is not None  # requireCredential
        note_id = str(params.misskey_id(body, "noteId", required=True))
        if await self.store.delete_note(note_id, user.id):
            return None
        if await self.find_visible_note(note_id, user) is not None:
            raise ACCESS_DENIED
        raise NO_SUCH_NOTE_TO_DELETE

    async def timeline(self, body: dict[str, Any], user: User | None, request: Request) -> list[dict[str, Any]]:
        """notes/timeline.ts: the notes of the user and of whom they follow (nobody follows anyone here)."""
        assert user is not None  # requireCredential
        page = params.page(body)
        with_files = params.boolean(body, "withFiles", False)
        notes = [] if with_files else await self.store.home_timeline(user.id, page)  # no note has files
        return await self.pack_all(notes)

    async def local_timeline(self, body: dict[str, Any], user: User | None, request: Request) -> list[dict[str, Any]]:
        """notes/local-timeline.ts: everyone's `public` notes; replies only with `withReplies`."""
        page = params.page(body)
        with_files = params.boolean(body, "withFiles", False)
        with_replies = params.boolean(body, "withReplies", False)
        if with_files and with_replies:
            raise BOTH_WITH_REPLIES_AND_WITH_FILES
        notes = [] if with_files else await self.store.local_timeline(page, with_replies=with_replies)
        return await self.pack_all(notes)

    async def user(self, body: dict[str, Any], user: User | None, request: Request) -> Any:
        """users/show.ts: by `userId`, `userIds` (the users found, in no set order) or `username` (`host` null)."""
        user_ids = body.get("userIds")
        if user_ids is not None:
            if not isinstance(user_ids, list) or len(user_ids) > 100:
                raise invalid_param("userIds", "must be a list of at most 100 user ids")
            ids = [params.misskey_id({"userIds": one}, "userIds", required=True) for one in user_ids]
            found = [await self._user(str(one)) for one in dict.fromkeys(ids)]
            return [pack_user(one) for one in found if one is not None]
        user_id = params.misskey_id(body, "userId")
        if user_id is not None:
            shown = await self._user(user_id)
        else:
            username, host = body.get("username"), body.get("host")
            if not isinstance(username, str) or not 0 < len(username) <= params.MAX_ID:
                raise invalid_param("username", "userId, userIds or username is required")
            if host is not None and not isinstance(host, str):
                raise invalid_param("host", "must be a string or null")
            shown = await self.store.find_user_by_name(username) if host is None and username.isprintable() else None
        if shown is None:
            raise NO_SUCH_USER
        return pack_user(shown)

    async def user_notes(self, body: dict[str, Any], user: User | None, request: Request) -> list[dict[str, Any]]:
        """users/notes.ts: a user's notes the caller may see; an unknown user has none."""
        user_id = str(params.misskey_id(body, "userId", required=True))
        page = params.page(body)
        with_replies = params.boolean(body, "withReplies", False)
        with_files = params.boolean(body, "withFiles", False)
        viewer = user.id if user is not None else None
        found = [] if with_files else await self.store.user_notes(user_id, viewer, page, with_replies=with_replies)
        return await self.pack_all(found)

    async def pack_all(self, notes: list[Note]) -> list[dict[str, Any]]:
        packed = []
        for note in notes:
            author = await self._user(note.user_id)
            if author is not None:
                packed.append(pack_note(note, author))
        return packed


ACCESS_DENIED = MisskeyError(400, "ACCESS_DENIED", "fe8d7103-0ea8-4ec3-814d-f8b401dc69e9", "Access denied.")
BOTH_WITH_REPLIES_AND_WITH_FILES = MisskeyError(
    400,
    "BOTH_WITH_REPLIES_AND_WITH_FILES",
    "dd9c8400-1cb5-4eef-8a31-200c5f933793",
    "Specifying both withReplies and withFiles is not supported",
)


def presented_token(request: Request, body: dict[str, Any]) -> str | None:
    """The token sent, if any: `Authorization: Bearer` or the body's `i` (null or absent: none). Both naming
    different tokens, a malformed header, or a token in the query string is InvalidToken."""
    body_token = body.pop("i", None)
    if body_token is not None and not isinstance(body_token, str):
        raise invalid_param("i", "must be a string")
    if request.scope["query_string"] and any(name in request.query_params for name in QUERY_TOKEN_NAMES):
        raise InvalidToken("a token in the query string is refused: send it in the body's `i` or the header")
    header = request.headers.get("authorization")
    if header is None and body_token is None:
        return None
    return token_of(header, body_token)


def plausible_note_id(text: str) -> bool:
    """Worth a look-up: 1-64 visible characters (ids are base36; a NUL would even fail PostgreSQL's query)."""
    return 0 < len(text) <= 64 and text.isprintable()


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object body, in Misskey's error shape when it is not one."""
    try:
        return await read_json_object(request)
    except ValueError as exc:
        raise invalid_param("body", str(exc)) from exc


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
