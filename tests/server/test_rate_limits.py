"""The per-address limits on POST /oauth/device_authorization and POST /oauth/par (rate_limits.py, the mechanism of
dynamic registration's limit), tried as an attacker would: parallel bursts over two servers on one database, junk
that costs the attacker nothing, forged forwarding headers; on SQLite and PostgreSQL.

Over two real `sekisho serve` processes: tests/e2e/test_rate_limits.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest

from sekisho.server.settings import Settings, parse_networks
from sekisho.server.web.app import create_app
from tests.conftest import ISSUER, Clock, World, make_world
from tests.server.test_device import Device
from tests.server.test_device import register as register_device

ATTACKER = ("203.0.113.7", 4000)
PROXY = ("10.0.0.2", 4000)


def settings(database: str, **extra: Any) -> Settings:
    return Settings(issuer=ISSUER, database=database, **extra)


@pytest.fixture
def seeded(database: str) -> Iterator[tuple[World, Device]]:
    """The seeded database (the world's public client pushes) and a public device client."""
    with make_world(database) as world:
        yield world, register_device(world)


def device_form(device: Device) -> dict[str, str]:
    return {"scope": "read:account"} | device.auth()


async def burst(
    apps: Sequence[Any],
    requests: Sequence[tuple[str, dict[str, str]]],
    *,
    peer: tuple[str, int] = ATTACKER,
    forwarded: Callable[[int], str] | None = None,
) -> list[httpx2.Response]:
    """Every request (path, form) at once (asyncio.gather), spread over `apps` (servers on one database), all from
    `peer`; `forwarded`: the X-Forwarded-For of the n-th request."""
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        clients = [
            await stack.enter_async_context(
                httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app, client=peer), base_url=ISSUER)
            )
            for app in apps
        ]
        sent = (
            clients[n % len(clients)].post(
                path, data=form, headers={"x-forwarded-for": forwarded(n)} if forwarded else {}
            )
            for n, (path, form) in enumerate(requests)
        )
        return list(await asyncio.gather(*sent))


def servers(database: str, clock: Clock, count: int = 2, **extra: Any) -> list[Any]:
    return [create_app(settings(database, **extra), clock=clock) for _ in range(count)]


def assert_too_many(response: httpx2.Response, window: int = 60) -> None:
    """RFC 6585 §4's 429 with Retry-After, and an RFC 6749 §5.2 body."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == "too_many_requests" and "try again in" in body["error_description"]


def test_a_parallel_burst_over_two_servers_gets_exactly_each_limit(seeded: tuple[World, Device]) -> None:
    """Thirty device authorizations and thirty pushes at once, from one address, alternating between two servers on
    one database: exactly 4 and 6 get through (each endpoint its own count), the rest 429 with Retry-After."""
    world, device = seeded
    requests = [("/oauth/device_authorization", device_form(device))] * 30
    requests += [("/oauth/par", world.authorize_params(world.public.client_id))] * 30
    apps = servers(world.database, Clock(), device_authorization_limit=4, par_limit=6)
    answers = asyncio.run(burst(apps, requests))
    devices, pushes = answers[:30], answers[30:]
    assert sorted(answer.status_code for answer in devices) == [200] * 4 + [429] * 26
    assert sorted(answer.status_code for answer in pushes) == [201] * 6 + [429] * 24
    for answer in answers:
        if answer.status_code == 429:
            assert_too_many(answer)


def test_the_limit_answers_how_long_to_wait_and_lifts_after_the_minute(
    seeded: tuple[World, Device], caplog: pytest.LogCaptureFixture
) -> None:
    world, device = seeded
    clock = Clock()
    apps = servers(world.database, clock, device_authorization_limit=2, par_limit=2)
    push = ("/oauth/par", world.authorize_params(world.public.client_id))
    start = ("/oauth/device_authorization", device_form(device))
    assert [a.status_code for a in asyncio.run(burst(apps, [push, push, start, start]))] == [201, 201, 200, 200]
    clock.advance(45)
    refused = asyncio.run(burst(apps, [push, start]))
    for answer in refused:
        assert_too_many(answer)
        assert answer.headers["retry-after"] == "15"
    events = [r.fields for r in caplog.records if r.name == "sekisho.security"]  # type: ignore[attr-defined]
    assert sorted(events, key=lambda event: event["event"]) == [
        {"event": "device_authorization_throttled", "address": ATTACKER[0], "retry_after": 15},
        {"event": "pushed_request_throttled", "address": ATTACKER[0], "retry_after": 15},
    ]
    clock.advance(15)
    assert [a.status_code for a in asyncio.run(burst(apps, [push, start]))] == [201, 200]


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/oauth/par", {"client_id": "nobody", "response_type": "code"}),  # an unknown client: invalid_client
        ("/oauth/par", {"client_id": "x", "client_id ": "y", "%%": "%"}),  # junk form fields
        ("/oauth/device_authorization", {"client_id": "nobody"}),
        ("/oauth/device_authorization", {}),  # no client at all
    ],
)
def test_requests_that_fail_count_too_so_junk_cannot_probe_for_free(
    seeded: tuple[World, Device], path: str, form: dict[str, str]
) -> None:
    """An attacker needs no client to spend the budget: failures count, and past the limit even junk gets a 429
    (never a 500), so it cannot go on probing client ids or secrets from that address."""
    world, device = seeded
    apps = servers(world.database, Clock(), device_authorization_limit=3, par_limit=3)
    answers = asyncio.run(burst(apps, [(path, form)] * 8))
    assert sorted(answer.status_code for answer in answers)[-5:] == [429] * 5
    assert all(answer.status_code in (400, 401) for answer in sorted(answers, key=lambda a: a.status_code)[:3])
    assert all("error" in answer.json() for answer in answers)
    good = ("/oauth/par", world.authorize_params(world.public.client_id))
    if path == "/oauth/device_authorization":
        good = (path, device_form(device))
    assert_too_many(asyncio.run(burst(apps, [good]))[0])


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(seeded: tuple[World, Device]) -> None:
    """Two clients behind one trusted proxy (told apart by X-Forwarded-For) each get the whole limit: the NAT'd or
    proxied neighbour of an attacker is not starved by the attacker's burst."""
    world, device = seeded
    trusted = {"trusted_proxies": parse_networks(["10.0.0.0/8"]), "device_authorization_limit": 3}
    apps = servers(world.database, Clock(), **trusted)
    attacker = [("/oauth/device_authorization", device_form(device))] * 10
    answers = asyncio.run(burst(apps, attacker, peer=PROXY, forwarded=lambda _: "198.51.100.66"))
    assert sorted(answer.status_code for answer in answers) == [200] * 3 + [429] * 7
    neighbour = asyncio.run(burst(apps, attacker[:3], peer=PROXY, forwarded=lambda _: "198.51.100.7"))
    assert [answer.status_code for answer in neighbour] == [200] * 3


def test_forwarding_headers_from_an_untrusted_peer_do_not_escape_the_limit(seeded: tuple[World, Device]) -> None:
    """An attacker that writes a new X-Forwarded-For on every request, straight to the server (no trusted proxy):
    its own address is counted all the same. A proxy-shaped left-most hop added to a trusted proxy's list fails too."""
    world, device = seeded
    apps = servers(world.database, Clock(), par_limit=3)
    push = ("/oauth/par", world.authorize_params(world.public.client_id))
    answers = asyncio.run(burst(apps, [push] * 8, forwarded=lambda n: f"192.0.2.{n + 1}"))
    assert sorted(answer.status_code for answer in answers) == [201] * 3 + [429] * 5
    proxied = servers(world.database, Clock(), par_limit=3, trusted_proxies=parse_networks(["10.0.0.0/8"]))
    spoofed = asyncio.run(burst(proxied, [push] * 8, peer=PROXY, forwarded=lambda n: f"192.0.2.{n + 1}, 198.51.100.99"))
    assert sorted(answer.status_code for answer in spoofed) == [201] * 3 + [429] * 5


def test_get_is_not_a_way_around_the_limit(database: str) -> None:
    """GET where POST is meant is 405 and spends nothing of the limit."""
    with make_world(database, settings(database, device_authorization_limit=1, par_limit=1)) as world:
        device = register_device(world)
        params = world.authorize_params(world.public.client_id)
        for path in ("/oauth/par", "/oauth/device_authorization"):
            for _ in range(3):
                answer = world.http.get(path, params=params)
                assert answer.status_code == 405 and answer.json()["error"]
        assert world.http.post("/oauth/device_authorization", data=device_form(device)).status_code == 200
        assert world.http.post("/oauth/par", data=params).status_code == 201
        assert_too_many(world.http.post("/oauth/par", data=params))
