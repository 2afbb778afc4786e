"""The client's address and scheme behind trusted reverse proxies (`serve --trusted-proxy CIDR`).

Forwarding headers are read only from a peer inside a trusted block, and only as far as they stay trusted: the
client is the right-most hop that is not a trusted proxy (every hop left of it could have been written by the
client itself). `X-Forwarded-For` is preferred to `Forwarded` (RFC 7239) when a proxy sent both, since the common
proxies append to it and pass a client's own `Forwarded` through untouched.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
log = logging.getLogger("sekisho")

_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')
_SCHEMES = frozenset({"http", "https"})


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    """True for an IP address inside one of the trusted blocks (a name, or garbage, is never trusted)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def parse_forwarded(value: str) -> list[tuple[str, str | None]]:
    """RFC 7239 §4: `Forwarded` as (for, proto) per hop, left to right; a hop without `for` is "unknown"."""
    hops: list[tuple[str, str | None]] = []
    for element in value.split(","):
        pairs = {name.lower(): raw.strip('"') for name, raw in _FORWARDED_PAIR.findall(element.replace(";", " "))}
        hops.append((_strip_port(pairs.get("for", "unknown")), pairs.get("proto", "").lower() or None))
    return hops


def _strip_port(node: str) -> str:
    """RFC 7239 §6: `192.0.2.7:8080` → `192.0.2.7`, `[2001:db8::1]:80` → `2001:db8::1`."""
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    if node.count(":") == 1:
        return node.split(":", 1)[0]
    return node


def forwarded_client(peer: str, headers: dict[str, str], trusted: Sequence[Network]) -> tuple[str, str | None] | None:
    """(client address, scheme or None) as the trusted proxies say; None when the peer is not trusted or says
    nothing."""
    if not is_trusted(peer, trusted):
        return None
    if "x-forwarded-for" in headers:
        addresses = [_strip_port(part.strip()) for part in headers["x-forwarded-for"].split(",")]
        protos = [part.strip().lower() for part in headers.get("x-forwarded-proto", "").split(",")]
        hops: list[tuple[str, str | None]] = [
            (address, protos[index] if len(protos) == len(addresses) else protos[-1] or None)
            for index, address in enumerate(addresses)
        ]
    elif "forwarded" in headers:
        hops = parse_forwarded(headers["forwarded"])
    else:
        return None
    hops = [hop for hop in hops if hop[0]]
    if not hops:
        return None
    for address, proto in reversed(hops):
        if not is_trusted(address, trusted):
            return address, proto if proto in _SCHEMES else None
    address, proto = hops[0]  # every hop is a trusted proxy: the left-most is the nearest to the client
    return address, proto if proto in _SCHEMES else None


class Forwarding:
    """Sets a request scope's `client` and `scheme` from the forwarding headers of trusted proxies, and warns once
    per process when an untrusted peer sends such headers (they are then ignored)."""

    def __init__(self, trusted: Sequence[Network]) -> None:
        self.trusted = tuple(trusted)
        self.warned = False

    def apply(self, scope: Scope, headers: dict[str, str]) -> None:
        """`headers`: the request's forwarding headers, lower-case names, repeated lines joined with commas."""
        peer = scope["client"][0]
        found = forwarded_client(peer, headers, self.trusted)
        if found is None:
            if not self.warned and not is_trusted(peer, self.trusted):
                self.warned = True
                log.warning(
                    "ignoring forwarding headers (%s) from %s, which is not a trusted proxy; "
                    "behind a reverse proxy, start with --trusted-proxy ITS_ADDRESS",
                    ", ".join(sorted(headers)),
                    peer,
                )
            return
        address, scheme = found
        scope["client"] = (address, 0)
        if scheme:
            scope["scheme"] = scheme
