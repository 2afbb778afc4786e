"""Misskey's MiAuth, for servers older than 2023.9.0 that publish no OAuth metadata (PROVIDERS.md).

Open `/miauth/SESSION?name=…&callback=…&permission=a,b`; once the browser comes back to the callback,
`POST /api/miauth/SESSION/check` answers `{"ok": true, "token", "user"}`, exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from sekisho.client.errors import AuthorizationError, ClientError


@dataclass(frozen=True, slots=True)
class MiAuthSession:
    session: str
    url: str


def start(issuer: str, *, name: str, callback: str, permissions: list[str]) -> MiAuthSession:
    session = str(uuid.uuid4())
    query = urlencode({"name": name, "callback": callback, "permission": ",".join(permissions)})
    return MiAuthSession(session, f"{issuer}/miauth/{session}?{query}")


async def check(http: httpx.AsyncClient, issuer: str, session: MiAuthSession) -> tuple[str, dict[str, object]]:
    """The token and the user, or `AuthorizationError` when the user did not allow it."""
    try:
        response = await http.post(f"{issuer}/api/miauth/{session.session}/check", json={})
        answer = response.json()
    except (httpx.HTTPError, ValueError, RecursionError) as error:  # RecursionError: JSON nested too deeply
        raise ClientError(f"MiAuth check at {issuer} failed: {error.__class__.__name__}") from None
    if not isinstance(answer, dict) or answer.get("ok") is not True or not isinstance(answer.get("token"), str):
        raise AuthorizationError("MiAuth: the server gave no token (access was denied, or the session expired)")
    user = answer.get("user")
    return str(answer["token"]), user if isinstance(user, dict) else {}


async def has_misskey_api(http: httpx.AsyncClient, issuer: str) -> bool:
    """Whether `issuer` answers Misskey's `POST /api/meta`, which every Misskey version has."""
    try:
        response = await http.post(f"{issuer}/api/meta", json={"detail": False})
        return response.status_code == 200 and isinstance(response.json(), dict)
    except (httpx.HTTPError, ValueError, RecursionError):
        return False
