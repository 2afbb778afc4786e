"""X's dialect of the notes API (API v2): GET /2/users/me, POST /2/tweets, GET and DELETE /2/tweets/{id}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sekisho.demo.notes import NotesApi, plausible_note_id, read_json_object
from sekisho.errors import InsufficientScope, OAuthError, TemporarilyUnavailable
from sekisho.resource.asgi import route
from sekisho.resource.starlette import bearer_token, challenge_headers
from sekisho.server.entities import Note, User
from sekisho.server.ids import new_id

MAX_TEXT = 280
Action = Callable[[Request, User], Awaitable[Response]]


class XProblem(Exception):
    """X's error body (RFC 7807 style): {"title", "type", "status", "detail"}."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"title": self.title, "type": "about:blank", "status": self.status, "detail": self.detail}
        return JSONResponse(body, status_code=self.status, headers=headers)


def invalid(detail: str) -> XProblem:
    return XProblem(400, "Invalid Request", detail)


class XApi(NotesApi):
    def routes(self) -> list[Route]:
        return [
            route("/2/users/me", self.endpoint(self.me, "users.read"), ["GET"]),
            route("/2/tweets", self.endpoint(self.create, "tweet.write"), ["POST"]),
            route("/2/tweets/{id}", self.endpoint(self.show, "tweet.read"), ["GET"]),
            route("/2/tweets/{id}", self.endpoint(self.delete, "tweet.write"), ["DELETE"]),
        ]

    def endpoint(self, action: Action, scope: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                user = await self.acting_user(bearer_token(request), scope)  # the header only: never the query
                return await action(request, user)
            except XProblem as problem:
                return problem.response()
            except InsufficientScope as error:
                return XProblem(403, "Forbidden", error.description).response(challenge_headers(error))
            except TemporarilyUnavailable as error:
                return XProblem(503, "Service Unavailable", error.description).response(challenge_headers(error))
            except OAuthError as error:
                return XProblem(401, "Unauthorized", error.description).response(challenge_headers(error))

        return handle

    async def me(self, request: Request, user: User) -> Response:
        return JSONResponse({"data": {"id": user.id, "name": user.username, "username": user.username}})

    async def create(self, request: Request, user: User) -> Response:
        try:
            body = await read_json_object(request)
        except ValueError as exc:
            raise invalid(str(exc)) from exc
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise invalid(f"text must be a string of 1-{MAX_TEXT} characters")
        now = self.clock()
        note = Note(new_id(int(now * 1000)), user.id, text, "public", None, int(now))
        await self.store.add_note(note)
        return JSONResponse({"data": {"id": note.id, "text": note.text}}, status_code=201)

    async def show(self, request: Request, user: User) -> Response:
        """X's default fields: `id`, `text`, and the edit history (a note is never edited here)."""
        note_id = request.path_params["id"]
        note = await self.find_visible_note(note_id, user) if plausible_note_id(note_id) else None
        if note is None:
            raise XProblem(404, "Not Found Error", "Could not find a post with that id.")
        return JSONResponse({"data": {"id": note.id, "text": note.text, "edit_history_tweet_ids": [note.id]}})

    async def delete(self, request: Request, user: User) -> Response:
        note_id = request.path_params["id"]
        deleted = plausible_note_id(note_id) and await self.store.delete_note(note_id, user.id)
        if not deleted:
            raise XProblem(404, "Not Found Error", "Could not find a post you can delete with that id.")
        data: dict[str, Any] = {"deleted": True}
        return JSONResponse({"data": data})
