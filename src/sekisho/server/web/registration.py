"""POST /oauth/register (RFC 7591 §3), served when `serve --registration` is open or token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sekisho.errors import InvalidToken
from sekisho.protocol import bearer
from sekisho.protocol.registration import parse_registration
from sekisho.server import registration
from sekisho.server.grants import HANDLERS
from sekisho.server.rate_limits import REGISTRATIONS
from sekisho.server.web.requests import count_request, read_body, state
from sekisho.server.web.responses import CORS, NO_STORE, Json, raw_headers

_CREATED = raw_headers({**NO_STORE, **CORS})


async def register(request: Request) -> Response:
    app = state(request)
    now = app.now()
    authorization = request.headers.get("authorization")
    await count_request(request, REGISTRATIONS, app.settings.registration_limit)
    try:
        token = None
        if app.settings.registration == "token":
            token = await registration.check_initial_token(app.store, authorization, now)
        metadata = parse_registration(
            await read_body(request),
            request.headers.get("content-type", ""),
            grant_types=registration.offered_grant_types(HANDLERS),
            known_scopes=app.settings.scopes,
        )
        logo = await app.url_clients.logo(metadata.logo_uri)  # fetched as URL clients' are, kept as a data: URL
        body = await registration.register(
            app.store, metadata, known_scopes=app.settings.scopes, token_digest=token, now=now, logo=logo
        )
    except InvalidToken as error:
        return unauthorized(error, sent=authorization is not None)
    return Json(body, 201, _CREATED)


def unauthorized(error: InvalidToken, *, sent: bool) -> Response:
    """RFC 6750 §3.1: 401 with a Bearer challenge, which names the error only when a token was sent."""
    challenge = bearer.challenge(error.error, error.description) if sent else bearer.challenge()
    headers = {**NO_STORE, **CORS, "WWW-Authenticate": challenge}
    return JSONResponse(error.body(), status_code=401, headers=headers)
