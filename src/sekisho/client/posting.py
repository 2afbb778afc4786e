"""Posting and asking who one is, in the Misskey dialect (sekisho, Misskey) and X's API v2."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx

from sekisho.client.errors import ClientError
from sekisho.client.providers import Api


class StaticBearer(httpx.Auth):
    """A token used as it is (the first call after a login); `SekishoAuth` is the one that refreshes."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True, slots=True)
class Me:
    id: str
    username: str


@dataclass(frozen=True, slots=True)
class Posted:
    id: str
    url: str


async def whoami(http: httpx.AsyncClient, api: Api, auth: httpx.Auth | None = None) -> Me:
    """Misskey `POST /api/i`, X `GET /2/users/me`; the token comes from `auth` or the client's own (SekishoAuth)."""
    if api.dialect == "x":
        data = _field(await _call(http, "GET", f"{api.api_base}/2/users/me", auth), "data")
    else:
        data = await _call(http, "POST", f"{api.api_base}/i", auth, json={})
    return Me(id=str(_field(data, "id")), username=str(_field(data, "username")))


async def post(http: httpx.AsyncClient, api: Api, text: str, username: str | None) -> Posted:
    """Misskey `notes/create`, X `POST /2/tweets`: the new post's id and the URL a person opens to see it."""
    if api.dialect == "x":
        answer = await _call(http, "POST", f"{api.api_base}/2/tweets", None, json={"text": text})
        note_id = str(_field(_field(answer, "data"), "id"))
    else:
        answer = await _call(http, "POST", f"{api.api_base}/notes/create", None, json={"text": text})
        note_id = str(_field(_field(answer, "createdNote"), "id"))
    return Posted(note_id, api.post_url(note_id, username))


async def _call(http: httpx.AsyncClient, method: str, url: str, auth: httpx.Auth | None, **request: Any) -> Any:
    try:
        if auth is not None:
            request["auth"] = auth
        response = await http.request(method, url, timeout=15, **request)
    except httpx.HTTPError as error:
        raise ClientError(f"could not reach {url}: {error.__class__.__name__}; is the server up?") from None
    if response.status_code == 401:
        raise ClientError("the server refused the access token; run `sekisho login` again")
    if response.status_code == 403:
        raise ClientError(f"this login may not do that ({_reason(response)}); log in again with a wider --scope")
    if response.status_code >= 400:
        raise ClientError(f"the server said {response.status_code}: {_reason(response)}")
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's stack
        raise ClientError(f"{url} did not answer with JSON") from None


def _reason(response: httpx.Response) -> str:
    """Misskey's `{"error": {"message"}}`, X's `{"detail"}`, RFC 6750's `error_description`, or the status text."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("detail", "error_description", "title", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return response.reason_phrase


def _field(value: Any, name: str) -> Any:
    if not isinstance(value, dict) or name not in value:
        raise ClientError(f"the server's answer lacks {name!r}; is this the right server and --provider?")
    return value[name]
