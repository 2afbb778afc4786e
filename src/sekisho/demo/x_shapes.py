"""X API v2's shapes: users and posts with the `fields` asked for, partial errors, and problem bodies.

Sources: fields https://docs.x.com/x-api/fundamentals/fields, expansions
https://docs.x.com/x-api/fundamentals/expansions, errors https://docs.x.com/x-api/fundamentals/response-codes-and-errors
(problem objects, and "partial errors": a lookup answers 200 with `errors` for what it could not find).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import JSONResponse

from sekisho.server.entities import Note, User

# What sekisho has of X's fields; other field names X knows are accepted and left out, as X leaves out what a post
# or user does not have.
USER_FIELDS = ("id", "name", "username", "created_at", "protected")
POST_FIELDS = (
    "id",
    "text",
    "edit_history_tweet_ids",
    "author_id",
    "created_at",
    "conversation_id",
    "referenced_tweets",
)
DEFAULT_USER = ("id", "name", "username")
DEFAULT_POST = ("id", "text", "edit_history_tweet_ids")
INVALID_REQUEST = "https://api.x.com/2/problems/invalid-request"
NOT_FOUND = "https://api.x.com/2/problems/resource-not-found"


class XProblem(Exception):
    """X's problem body (RFC 7807 style): {"title", "type", "status", "detail"}, and `errors` when X lists them."""

    def __init__(
        self, status: int, title: str, detail: str, *, type_: str = "about:blank", errors: list[Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type, self.errors = status, title, detail, type_, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"title": self.title, "type": self.type, "status": self.status, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=dict(headers or {}))


def invalid(detail: str) -> XProblem:
    return XProblem(400, "Invalid Request", detail)


def invalid_parameter(name: str, value: str, message: str) -> XProblem:
    """A query parameter X refuses: 400 with the parameter named in `errors`."""
    errors = [{"parameters": {name: [value]}, "message": message}]
    detail = "One or more parameters to your request was invalid."
    return XProblem(400, "Invalid Request", detail, type_=INVALID_REQUEST, errors=errors)


def iso(seconds: int) -> str:
    """X's timestamps: ISO 8601 in UTC with milliseconds ("2019-06-04T23:12:08.000Z")."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def asked_fields(query: Mapping[str, str], names: Iterable[str], default: tuple[str, ...]) -> tuple[str, ...]:
    """The fields to show: the defaults and those asked for in any of `names` (`tweet.fields`, and `post.fields`,
    which xdk sends), comma-separated."""
    asked = [field for name in names for field in query.get(name, "").split(",") if field]
    return (*default, *(field for field in asked if field not in default))


def pack_user(user: User, fields: Iterable[str] = DEFAULT_USER) -> dict[str, Any]:
    values = {
        "id": user.id,
        "name": user.username,
        "username": user.username,
        "created_at": iso(user.created_at),
        "protected": False,
    }
    return {field: values[field] for field in fields if field in values}


def pack_post(note: Note, fields: Iterable[str] = DEFAULT_POST) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": note.id,
        "text": note.text,
        "edit_history_tweet_ids": [note.id],  # a note is never edited here
        "author_id": note.user_id,
        "created_at": iso(note.created_at),
        "conversation_id": note.id,
    }
    if note.reply_id is not None:  # https://docs.x.com/x-api/fundamentals/data-dictionary (referenced_tweets)
        values["referenced_tweets"] = [{"type": "replied_to", "id": note.reply_id}]
    return {field: values[field] for field in fields if field in values}


def not_found(resource: str, parameter: str, value: str) -> dict[str, Any]:
    """One partial error: what X lists in `errors` for an id it could not find."""
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": NOT_FOUND,
    }


def lookup(data: list[dict[str, Any]] | dict[str, Any] | None, errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A lookup's body: `data` when something was found, `errors` when something was not (both may be there)."""
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return body
