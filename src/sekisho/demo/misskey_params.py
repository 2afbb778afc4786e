"""Misskey's request parameters, checked as its endpoints' JSON schemas (`paramDef` in endpoints/*.ts) check them;
a value they refuse is Misskey's INVALID_PARAM. Parameters an endpoint does not know are ignored, as Misskey's
schemas (no `additionalProperties: false`) ignore them."""

from __future__ import annotations

import re
from typing import Any

from sekisho.demo.misskey_errors import invalid_param
from sekisho.demo.store import Page

MAX_ID = 64  # sekisho's bound; Misskey's ids are at most 32 characters
_ID = re.compile(r"[a-zA-Z0-9]+")  # endpoint-base.ts: ajv.addFormat('misskey:id', /^[a-zA-Z0-9]+$/)
LIMIT_DEFAULT, LIMIT_MAX = 10, 100  # `limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }`


def misskey_id(body: dict[str, Any], name: str, *, required: bool = False, nullable: bool = False) -> str | None:
    """An id parameter (`format: 'misskey:id'`): ASCII letters and digits."""
    value = body.get(name)
    if value is None:
        if name not in body and not required:
            return None
        if name in body and nullable:
            return None
        raise invalid_param(name, "must be a note or user id" if name in body else "is required")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID or not _ID.fullmatch(value):
        raise invalid_param(name, "must be an id: 1-64 ASCII letters and digits")
    return value


def boolean(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise invalid_param(name, "must be a boolean")
    return value


def optional_string(body: dict[str, Any], name: str, max_length: int) -> str | None:
    """`{ type: 'string', nullable: true, maxLength }`."""
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > max_length):
        raise invalid_param(name, f"must be a string of at most {max_length} characters")
    return value


def one_of(body: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in choices:
        raise invalid_param(name, f"must be one of {', '.join(choices)}")
    return str(value)


def page(body: dict[str, Any]) -> Page:
    """`limit`, `sinceId`, `untilId` of Misskey's timelines (QueryService.makePaginationQuery pages by them)."""
    limit = body.get("limit", LIMIT_DEFAULT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIMIT_MAX:
        raise invalid_param("limit", f"must be an integer from 1 to {LIMIT_MAX}")
    return Page(limit, misskey_id(body, "sinceId"), misskey_id(body, "untilId"))
