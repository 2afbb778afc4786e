"""The device authorization grant's client side (RFC 8628): ask for a user code, then poll the token endpoint
politely (the interval, 5 s more at each `slow_down`, longer still while the server is unreachable) until the
person allows or denies, or the code expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sekisho.client.dpop import Prover
from sekisho.client.errors import TokenError
from sekisho.client.oauth import ClientCredentials, TokenSet, parse_token_response, token_request

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: when the server names none
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5
MAX_BACKOFF = 60  # seconds between polls at most while the server is unreachable (RFC 8628 §3.5: back off)
MIN_EXPIRES = 10


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """RFC 8628 §3.2: what to show the person, and what to poll with."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float


async def request_device_code(
    http: httpx.AsyncClient,
    endpoint: str,
    credentials: ClientCredentials,
    scope: str | None,
    *,
    now: float,
) -> DeviceAuthorization:
    """RFC 8628 §3.1: the device authorization request, authenticated as at the token endpoint."""
    body = await token_request(http, endpoint, credentials, {"scope": scope} if scope else {})
    return parse_device_response(body, now)


def parse_device_response(body: dict[str, Any], now: float) -> DeviceAuthorization:
    """RFC 8628 §3.2; `TokenError` names what is missing."""
    strings = {name: body.get(name) for name in ("device_code", "user_code", "verification_uri")}
    for name, value in strings.items():
        if not isinstance(value, str) or not value:
            raise TokenError("server_error", f"the device authorization answer lacks {name}; is this the right server?")
    expires_in, interval = body.get("expires_in"), body.get("interval", DEFAULT_INTERVAL)
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in < MIN_EXPIRES:
        raise TokenError("server_error", "the device authorization answer has no usable expires_in")
    if not isinstance(interval, int | float) or isinstance(interval, bool):
        interval = DEFAULT_INTERVAL
    complete = body.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=str(strings["device_code"]),
        user_code=str(strings["user_code"]),
        verification_uri=str(strings["verification_uri"]),
        verification_uri_complete=complete if isinstance(complete, str) and complete else None,
        expires_at=now + expires_in,
        interval=max(float(interval), 1.0),
    )


async def poll_for_tokens(
    http: httpx.AsyncClient,
    token_endpoint: str,
    credentials: ClientCredentials,
    authorization: DeviceAuthorization,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    prover: Prover | None = None,
) -> TokenSet:
    """RFC 8628 §3.4-3.5: poll every `interval` seconds until tokens come; `TokenError` with `access_denied` or
    `expired_token` when the person denies or the code expires, or the server's error for anything else. With
    `prover`, each poll carries a DPoP proof (RFC 9449 §5)."""
    form = {"grant_type": GRANT_TYPE, "device_code": authorization.device_code}
    interval = authorization.interval
    waited = interval  # the pause before the next poll: the interval, or longer while the server is unreachable
    while True:
        if clock() + waited >= authorization.expires_at:
            raise _expired()
        await sleep(waited)
        try:
            body = await token_request(http, token_endpoint, credentials, form, prover)
        except TokenError as error:
            match error.error:
                case "authorization_pending":
                    waited = interval
                case "slow_down":  # for this poll and all later ones
                    interval += SLOW_DOWN_STEP
                    waited = interval
                case "server_error" | "temporarily_unavailable":  # unreachable, or a 5xx: back off (§3.5)
                    waited = min(waited * 2, max(MAX_BACKOFF, interval))
                case "access_denied":
                    raise TokenError("access_denied", "the sign-in was denied in the browser") from None
                case "expired_token":
                    raise _expired() from None
                case _:
                    raise
            continue
        return parse_token_response(body, clock(), dpop=prover is not None)


def _expired() -> TokenError:
    return TokenError("expired_token", "the code expired before it was allowed; run `sekisho login --device` again")
