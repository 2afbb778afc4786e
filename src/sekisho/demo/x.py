"""X's dialect of the notes API (API v2), as X's SDKs read it: users (`/2/users/me`, `/2/users/{id}`, a user's posts),
posts (create, reply, look up one or many, delete), `fields` and the `author_id` expansion, partial errors for what a
lookup cannot find, X's problem bodies, and the `x-rate-limit-*` headers (x_limits). docs/x-stand-in.md lists what
follows which X page, and what is not emulated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.demo.notes import NotesApi, NotesStore, plausible_note_id, read_json_object
from sekisho.demo.x_limits import RateLimits
from sekisho.demo.x_shapes import (
    DEFAULT_POST,
    DEFAULT_USER,
    XProblem,
    asked_fields,
    invalid,
    invalid_parameter,
    lookup,
    not_found,
    pack_post,
    pack_user,
)
from sekisho.errors import InsufficientScope, OAuthError, TemporarilyUnavailable
from sekisho.resource import TokenVerifier
from sekisho.resource.asgi import route
from sekisho.resource.dpop import DPoPGate
from sekisho.resource.metadata import ProtectedResource
from sekisho.resource.starlette import bearer_token, challenge_headers
from sekisho.server.entities import Note, User
from sekisho.server.ids import new_id

MAX_TEXT = 280
MAX_IDS = 100  # GET /2/tweets?ids=: "up to 100 comma-separated IDs"
SHOWN = ("public", "home")  # what X's dialect shows of other users' notes (notes.visible_to)
ALL = ("public", "home", "followers", "specified")
POST_FIELD_NAMES = ("tweet.fields", "post.fields")  # xdk 0.10 sends post.fields
Action = Callable[[Request, User], Awaitable[Response]]

__all__ = ["XApi", "XProblem"]


class XNotesStore(NotesStore, Protocol):
    async def list_user_notes_page(
        self, user_id: str, *, visibilities: Sequence[str], limit: int, before: str | None = None
    ) -> list[Note]: ...


class XApi(NotesApi):
    store: XNotesStore

    def __init__(
        self,
        store: XNotesStore,
        verifier: TokenVerifier,
        clock: Callable[[], float],
        *,
        limits: RateLimits | None = None,
        resource: ProtectedResource | None = None,
        dpop: DPoPGate | None = None,
    ) -> None:
        super().__init__(store, verifier, clock, resource=resource, dpop=dpop)
        self.limits = limits or RateLimits(clock)

    def routes(self) -> list[Route]:
        return [
            route("/2/users/me", self.endpoint("GET /2/users/me", self.me, "users.read"), ["GET"]),
            route("/2/users/{id}", self.endpoint("GET /2/users/{id}", self.user, "users.read"), ["GET"]),
            route("/2/users/{id}/tweets", self.endpoint("GET /2/users/{id}/tweets", self.posts, "tweet.read"), ["GET"]),
            route("/2/tweets", self.endpoint("POST /2/tweets", self.create, "tweet.write"), ["POST"]),
            route("/2/tweets", self.endpoint("GET /2/tweets", self.lookup, "tweet.read"), ["GET"]),
            route("/2/tweets/{id}", self.endpoint("GET /2/tweets/{id}", self.show, "tweet.read"), ["GET"]),
            route("/2/tweets/{id}", self.endpoint("DELETE /2/tweets/{id}", self.delete, "tweet.write"), ["DELETE"]),
        ]

    def endpoint(self, name: str, action: Action, scope: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                user = await self.acting_user(bearer_token(request), scope, request)  # the header only: not the query
                standing = self.limits.take(name, user.id)
                if standing.refused:  # X: 429 until x-rate-limit-reset
                    return XProblem(429, "Too Many Requests", "Too Many Requests").response(standing.headers())
                response = await action(request, user)
                response.headers.update(standing.headers())
                return response
            except XProblem as problem:
                return problem.response()
            except InsufficientScope as error:
                return XProblem(403, "Forbidden", error.description).response(
                    challenge_headers(error, self.resource, dpop_algs=self.dpop.algorithms)
                )
            except TemporarilyUnavailable as error:
                return XProblem(503, "Service Unavailable", error.description).response(challenge_headers(error))
            except OAuthError as error:
                return XProblem(401, "Unauthorized", error.description).response(
                    challenge_headers(error, self.resource, (scope,), dpop_algs=self.dpop.algorithms)
                )

        return handle

    async def me(self, request: Request, user: User) -> Response:
        return JSONResponse({"data": pack_user(user, _user_fields(request))})

    async def user(self, request: Request, user: User) -> Response:
        """GET /2/users/{id}: the user, or a partial error (https://docs.x.com/x-api/users/get-user-by-id)."""
        user_id = _path_id(request)
        found = await self.store.find_user(user_id)
        if found is None:
            return JSONResponse(lookup(None, [not_found("user", "id", user_id)]))
        return JSONResponse({"data": pack_user(found, _user_fields(request))})

    async def posts(self, request: Request, user: User) -> Response:
        """GET /2/users/{id}/tweets: newest first, `max_results` (5-100, default 10) a page, `meta.next_token` to the
        next (https://docs.x.com/x-api/users/get-posts, https://docs.x.com/x-api/fundamentals/pagination)."""
        author_id, query = _path_id(request), request.query_params
        author = await self.store.find_user(author_id)
        if author is None:
            return JSONResponse(lookup(None, [not_found("user", "id", author_id)]))
        size = _max_results(query.get("max_results"))
        before = query.get("pagination_token")
        if before is not None and not plausible_note_id(before):
            raise invalid_parameter("pagination_token", before, "The `pagination_token` query parameter is invalid")
        shown = ALL if author.id == user.id else SHOWN
        notes = await self.store.list_user_notes_page(author.id, visibilities=shown, limit=size + 1, before=before)
        page = notes[:size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
        if len(notes) > size:
            meta["next_token"] = page[-1].id
        body = await self._posts_body(request, page)
        return JSONResponse({**body, "meta": meta})

    async def create(self, request: Request, user: User) -> Response:
        """POST /2/tweets: `text`, and `reply.in_reply_to_tweet_id` (https://docs.x.com/x-api/posts/create-post)."""
        try:
            body = await read_json_object(request)
        except ValueError as exc:
            raise invalid(str(exc)) from exc
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise invalid(f"text must be a string of 1-{MAX_TEXT} characters")
        parent_id = await self._reply_to(body.get("reply"), user)
        now = self.clock()
        note = Note(
            id=new_id(int(now * 1000)),
            user_id=user.id,
            text=text,
            visibility="public",
            cw=None,
            created_at=int(now),
            reply_id=parent_id,
        )
        await self.store.add_note(note)
        return JSONResponse({"data": pack_post(note)}, status_code=201)

    async def _reply_to(self, reply: Any, user: User) -> str | None:
        """The id of the post replied to, which must exist and be visible, as at X (403); None for no reply."""
        if reply is None:
            return None
        parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if not isinstance(parent_id, str):
            raise invalid("reply.in_reply_to_tweet_id must be a post id")
        if not plausible_note_id(parent_id) or await self.find_visible_note(parent_id, user) is None:
            detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
            raise XProblem(403, "Forbidden", detail)
        return parent_id

    async def show(self, request: Request, user: User) -> Response:
        """GET /2/tweets/{id}: the post, or a partial error (https://docs.x.com/x-api/posts/get-post-by-id)."""
        note_id = _path_id(request)
        note = await self.find_visible_note(note_id, user)
        if note is None:
            return JSONResponse(lookup(None, [not_found("tweet", "id", note_id)]))
        body = await self._posts_body(request, [note])
        return JSONResponse({**body, "data": body["data"][0]})

    async def lookup(self, request: Request, user: User) -> Response:
        """GET /2/tweets?ids=: those found in `data`, in the order asked, the others in `errors`
        (https://docs.x.com/x-api/posts/get-posts-by-ids)."""
        raw = request.query_params.get("ids", "")
        ids = [part for part in raw.split(",") if part]
        if not ids:
            raise invalid_parameter("ids", raw, "The `ids` query parameter can not be empty")
        if len(ids) > MAX_IDS or not all(plausible_note_id(note_id) for note_id in ids):
            raise invalid_parameter("ids", raw, f"The `ids` query parameter must be 1-{MAX_IDS} post ids")
        found, errors = [], []
        for note_id in ids:
            note = await self.find_visible_note(note_id, user)
            if note is None:
                errors.append(not_found("tweet", "ids", note_id))
            else:
                found.append(note)
        body = await self._posts_body(request, found)
        return JSONResponse({**body, **lookup(body.get("data"), errors)})

    async def delete(self, request: Request, user: User) -> Response:
        note_id = request.path_params["id"]
        deleted = plausible_note_id(note_id) and await self.store.delete_note(note_id, user.id)
        if not deleted:
            raise XProblem(404, "Not Found Error", "Could not find a post you can delete with that id.")
        return JSONResponse({"data": {"deleted": True}})

    async def _posts_body(self, request: Request, notes: list[Note]) -> dict[str, Any]:
        """`data` (when there are posts) with the fields asked for, and `includes.users` for `expansions=author_id`
        (https://docs.x.com/x-api/fundamentals/expansions)."""
        query = request.query_params
        fields = asked_fields(query, POST_FIELD_NAMES, DEFAULT_POST)
        body: dict[str, Any] = {"data": [pack_post(note, fields) for note in notes]} if notes else {}
        if notes and "author_id" in query.get("expansions", "").split(","):
            authors = {note.user_id: await self.store.find_user(note.user_id) for note in notes}
            users = [pack_user(author, _user_fields(request)) for author in authors.values() if author is not None]
            body["includes"] = {"users": users}
        return body


def _user_fields(request: Request) -> tuple[str, ...]:
    return asked_fields(request.query_params, ("user.fields",), DEFAULT_USER)


def _path_id(request: Request) -> str:
    """An id from the path; X answers 400 for one that is not an id (sekisho's are 1-64 visible characters)."""
    value: str = request.path_params["id"]
    if not plausible_note_id(value):
        raise invalid_parameter("id", value, "The `id` query parameter value is not a valid id")
    return value


def _max_results(raw: str | None) -> int:
    if raw is None:
        return 10
    if not (raw.isascii() and raw.isdigit()) or not 5 <= int(raw) <= 100:
        raise invalid_parameter("max_results", raw, "The `max_results` query parameter value must be 5-100")
    return int(raw)
