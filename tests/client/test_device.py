"""The device flow's client side (RFC 8628): the device authorization answer, and polling that honours the
interval, raises it at each slow_down, backs off while the server fails, and stops on denial or expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from sekisho.client import device
from sekisho.client.device import DeviceAuthorization
from sekisho.client.errors import TokenError
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.client.qr import terminal_qr
from tests.client.conftest import run
from tests.client.test_oauth import answering, form_of

TOKEN = "https://as.example/oauth/token"
DEVICE = "https://as.example/oauth/device_authorization"
NOW = 1_800_000_000.0
PUBLIC = ClientCredentials("tv-app")


class Time:
    """The poller's clock and sleep: a sleep moves the clock."""

    def __init__(self) -> None:
        self.now = NOW
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def error(name: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": name, "error_description": name})


TOKENS = httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "expires_in": 60, "scope": "a"})


def started(expires_in: float = 600, interval: float = 5) -> DeviceAuthorization:
    return DeviceAuthorization("sek_dc_x", "BCDF-GHJK", "https://as.example/device", None, NOW + expires_in, interval)


def poll(answers: Iterator[httpx.Response], time: Time, authorization: DeviceAuthorization | None = None) -> TokenSet:
    seen: list[httpx.Request] = []

    async def go() -> TokenSet:
        async with answering(lambda request: next(answers), seen) as http:
            return await device.poll_for_tokens(
                http, TOKEN, PUBLIC, authorization or started(), clock=time.clock, sleep=time.sleep
            )

    try:
        return run(go())
    finally:
        for request in seen:
            assert form_of(request) == {
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": "sek_dc_x",
                "client_id": "tv-app",
            }


def test_pending_then_tokens_at_the_interval() -> None:
    time = Time()
    tokens = poll(iter([error("authorization_pending"), error("authorization_pending"), TOKENS]), time)
    assert tokens.access_token == "at" and tokens.expires_at == time.now + 60
    assert time.pauses == [5, 5, 5]  # never sooner than the interval, the first poll too


def test_slow_down_adds_five_seconds_for_good() -> None:
    time = Time()
    answers = [error("slow_down"), error("authorization_pending"), error("slow_down"), TOKENS]
    poll(iter(answers), time)
    assert time.pauses == [5, 10, 10, 15]


def test_a_failing_server_is_polled_less_often() -> None:
    time = Time()
    answers = [error("server_error", 503), error("server_error", 502), error("authorization_pending"), TOKENS]
    poll(iter(answers), time)
    assert time.pauses == [5, 10, 20, 5]


def test_denied_stops_with_access_denied() -> None:
    with pytest.raises(TokenError) as raised:
        poll(iter([error("authorization_pending"), error("access_denied")]), Time())
    assert raised.value.error == "access_denied" and "denied" in str(raised.value)


def test_expired_token_stops() -> None:
    with pytest.raises(TokenError) as raised:
        poll(iter([error("expired_token")]), Time())
    assert raised.value.error == "expired_token" and "login --device" in str(raised.value)


def test_it_stops_by_itself_when_the_code_expires() -> None:
    time = Time()
    with pytest.raises(TokenError) as raised:
        poll(iter([error("authorization_pending")] * 100), time, started(expires_in=22))
    assert raised.value.error == "expired_token"
    assert time.pauses == [5, 5, 5, 5] and time.now < NOW + 22


def test_other_errors_are_the_servers() -> None:
    with pytest.raises(TokenError) as raised:
        poll(iter([error("invalid_grant")]), Time())
    assert raised.value.error == "invalid_grant"


def test_the_device_authorization_request_and_answer() -> None:
    seen: list[httpx.Request] = []
    body = {
        "device_code": "sek_dc_x",
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://as.example/device",
        "verification_uri_complete": "https://as.example/device?user_code=BCDF-GHJK",
        "expires_in": 600,
    }

    async def go() -> DeviceAuthorization:
        async with answering(lambda request: httpx.Response(200, json=body), seen) as http:
            return await device.request_device_code(http, DEVICE, PUBLIC, "read:account", now=NOW)

    found = run(go())
    assert form_of(seen[0]) == {"client_id": "tv-app", "scope": "read:account"}
    assert (found.user_code, found.interval, found.expires_at) == ("BCDF-GHJK", 5, NOW + 600)  # interval: 5 if none
    assert found.verification_uri_complete == body["verification_uri_complete"]
    assert "sek_dc_x" not in repr(found)


@pytest.mark.parametrize(
    "broken",
    [{"device_code": None}, {"user_code": 5}, {"verification_uri": ""}, {"expires_in": "600"}, {"expires_in": 0}],
)
def test_a_broken_answer_is_one_line(broken: dict[str, object]) -> None:
    body = {"device_code": "d", "user_code": "u", "verification_uri": "https://as.example/device", "expires_in": 600}
    with pytest.raises(TokenError) as raised:
        device.parse_device_response(json.loads(json.dumps(body | broken)), NOW)
    assert raised.value.error == "server_error"


def test_the_qr_code_is_drawn_only_where_it_fits() -> None:
    url = "https://as.example/device?user_code=BCDF-GHJK"
    drawing = terminal_qr(url, columns=80, rows=40)
    assert drawing is not None and set(drawing) <= {"█", "▀", "▄", " ", "\n"}
    lines = drawing.splitlines()
    assert terminal_qr(url, columns=len(lines[0]) - 1, rows=40) is None
    assert terminal_qr(url, columns=80, rows=len(lines) - 1) is None
