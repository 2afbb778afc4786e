"""sekisho.server.web.proxies: forwarding headers believed only from trusted proxies (issue 21 finding 3)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

import pytest
from starlette.types import Message, Receive, Scope, Send

from sekisho.server.web.proxies import forwarded_client, parse_forwarded
from sekisho.server.web.transport import Edge

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_an_untrusted_peer_is_never_believed() -> None:
    """An attacker connecting directly and claiming to be someone else: their own address stays theirs."""
    for peer in ("203.0.113.9", "127.0.0.1", "testclient", "not an address"):
        assert forwarded_client(peer, {"x-forwarded-for": "192.0.2.1"}, TRUSTED) is None
        assert forwarded_client(peer, {"forwarded": "for=192.0.2.1;proto=https"}, TRUSTED) is None


def test_no_trusted_proxies_means_no_forwarding_header_is_believed() -> None:
    assert forwarded_client("10.0.0.1", {"x-forwarded-for": "192.0.2.1"}, ()) is None


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    """A client that sends its own X-Forwarded-For gets it prepended to by the proxy: the spoofed left part is
    ignored, the hop the trusted proxy saw is taken."""
    headers = {"x-forwarded-for": "198.51.100.1, 203.0.113.9"}
    assert forwarded_client("10.0.0.1", headers, TRUSTED) == ("203.0.113.9", None)
    chained = {"x-forwarded-for": "198.51.100.1, 203.0.113.9, 10.1.2.3"}  # two trusted proxies in a row
    assert forwarded_client("10.0.0.1", chained, TRUSTED) == ("203.0.113.9", None)


def test_when_every_hop_is_trusted_the_left_most_is_the_client() -> None:
    assert forwarded_client("10.0.0.1", {"x-forwarded-for": "10.9.9.9, 10.1.1.1"}, TRUSTED) == ("10.9.9.9", None)


def test_proto_is_taken_from_the_chosen_hop_and_only_http_or_https() -> None:
    headers = {"x-forwarded-for": "203.0.113.9, 10.1.1.1", "x-forwarded-proto": "https, http"}
    assert forwarded_client("10.0.0.1", headers, TRUSTED) == ("203.0.113.9", "https")
    single = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    assert forwarded_client("10.0.0.1", single, TRUSTED) == ("203.0.113.9", "https")
    odd = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "javascript"}
    assert forwarded_client("10.0.0.1", odd, TRUSTED) == ("203.0.113.9", None)


@pytest.mark.parametrize(
    ("value", "hops"),
    [
        ("for=192.0.2.60;proto=http;by=203.0.113.43", [("192.0.2.60", "http")]),
        ('for="[2001:db8:cafe::17]:4711"', [("2001:db8:cafe::17", None)]),
        ("for=192.0.2.43, for=198.51.100.17", [("192.0.2.43", None), ("198.51.100.17", None)]),
        ('For="192.0.2.7:8080";Proto=HTTPS', [("192.0.2.7", "https")]),
        ("by=10.0.0.1", [("unknown", None)]),
        ("for=_hidden", [("_hidden", None)]),
    ],
)
def test_rfc7239_examples(value: str, hops: list[tuple[str, str | None]]) -> None:
    assert parse_forwarded(value) == hops


def test_forwarded_is_read_when_there_is_no_x_forwarded_for() -> None:
    headers = {"forwarded": "for=198.51.100.1, for=203.0.113.9;proto=https"}
    assert forwarded_client("10.0.0.1", headers, TRUSTED) == ("203.0.113.9", "https")


def test_x_forwarded_for_wins_over_a_forwarded_header_the_client_sent() -> None:
    """nginx appends to X-Forwarded-For and passes the client's own `Forwarded` through untouched."""
    headers = {"forwarded": "for=192.0.2.1", "x-forwarded-for": "203.0.113.9"}
    assert forwarded_client("10.0.0.1", headers, TRUSTED) == ("203.0.113.9", None)


def test_garbage_hops_are_untrusted_and_so_the_client() -> None:
    """A hop that is no address is never a trusted proxy: it stops the walk (it is what the proxy saw)."""
    assert forwarded_client("10.0.0.1", {"x-forwarded-for": "1.2.3.4, garbage"}, TRUSTED) == ("garbage", None)
    assert forwarded_client("10.0.0.1", {"x-forwarded-for": " , "}, TRUSTED) is None


def _seen_scope(middleware: Edge, scope: Scope) -> Scope:
    seen: list[Scope] = []

    async def app(inner: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(inner))

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    middleware.app = app
    asyncio.run(middleware(scope, receive, send))
    return seen[0]


def _scope(peer: str, *headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "scheme": "http", "client": (peer, 5000), "headers": list(headers)}


def test_middleware_rewrites_client_and_scheme_for_a_trusted_peer() -> None:
    middleware = Edge(lambda *_: None, trusted=TRUSTED)  # type: ignore[arg-type]
    scope = _seen_scope(
        middleware,
        _scope("10.0.0.1", (b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"203.0.113.9")),
    )
    assert scope["client"] == ("203.0.113.9", 0)  # repeated header lines are one list: the last line's hop
    proto = _seen_scope(middleware, _scope("::1", (b"forwarded", b"for=192.0.2.5;proto=https")))
    assert proto["client"] == ("192.0.2.5", 0) and proto["scheme"] == "https"


def test_middleware_warns_once_about_an_untrusted_peer(caplog: pytest.LogCaptureFixture) -> None:
    middleware = Edge(lambda *_: None, trusted=TRUSTED)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="sekisho"):
        for _ in range(3):
            scope = _seen_scope(middleware, _scope("203.0.113.9", (b"x-forwarded-for", b"192.0.2.1")))
            assert scope["client"] == ("203.0.113.9", 5000)
    warnings = [record.getMessage() for record in caplog.records if "forwarding headers" in record.getMessage()]
    assert warnings == [
        "ignoring forwarding headers (x-forwarded-for) from 203.0.113.9, which is not a trusted proxy; "
        "behind a reverse proxy, start with --trusted-proxy ITS_ADDRESS"
    ]
