"""Redirect URIs: registration rules, matching (RFC 6749 §3.1.2, RFC 8252 §7.3) and building."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

from sekisho.errors import InvalidRequest, OAuthError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem"})
_PORT = re.compile(r"[1-9][0-9]{0,4}")  # no port 0, no leading zeros, no sign


def is_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. "http://[oops": not a URI at all, so not a loopback one
        return False
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


def check_registrable(uri: str) -> str:
    """A redirect URI a client may register: absolute, no fragment, no dangerous scheme, a plain host and port."""
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"redirect URI {uri!r} is not a valid URI") from exc
    if not parts.scheme or any(ch.isspace() for ch in uri):
        raise InvalidRequest(f"redirect URI {uri!r} must be an absolute URI")
    if parts.fragment or "#" in uri:
        raise InvalidRequest(f"redirect URI {uri!r} must not contain a fragment")  # RFC 6749 §3.1.2
    if parts.scheme.lower() in _FORBIDDEN_SCHEMES:
        raise InvalidRequest(f"redirect URI scheme {parts.scheme!r} is not allowed")
    check_authority(uri, parts)
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise InvalidRequest(f"redirect URI {uri!r} has no host")
    if parts.scheme == "http" and not is_loopback(uri) and parts.hostname != "localhost":
        raise InvalidRequest(f"redirect URI {uri!r} must use https (http only for loopback)")
    return uri


def check_authority(uri: str, parts: SplitResult) -> None:
    """The host a person reads is the host the browser goes to: no userinfo, no backslash or %-escape, a plain port."""
    # Browsers read "\" as "/": in "https://evil.example\@good.example/" urlsplit's host is not theirs.
    if "\\" in parts.netloc:
        raise InvalidRequest(f"redirect URI {uri!r} must not contain a backslash in its host")
    # RFC 3986 §7.6: "https://good@evil.example/" reads as good and goes to evil.example.
    if "@" in parts.netloc:
        raise InvalidRequest(f"redirect URI {uri!r} must not contain userinfo (a name before @)")
    if "%" in parts.netloc:  # browsers decode %-escapes in a host
        raise InvalidRequest(f"redirect URI {uri!r} must not contain a %-escape in its host")
    port = port_text(parts.netloc)
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        raise InvalidRequest(f"redirect URI {uri!r} must have a port from 1 to 65535 without leading zeros")


def port_text(netloc: str) -> str | None:
    """The port as written after the host ("" for "host:"), or None when there is no colon after the host."""
    host_end = netloc.rfind("]") + 1  # an IPv6 literal holds colons of its own
    head, colon, port = netloc[host_end:].rpartition(":")
    return port if colon else None


def host_of(uri: str) -> str:
    """The host (and port) a browser is sent to, for people to read: what follows any userinfo, up to any backslash."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return ""
    authority = parts.netloc.split("\\", 1)[0] if parts.scheme in ("http", "https") else parts.netloc
    return authority.rpartition("@")[2].lower()


def _split_port(uri: str) -> tuple[tuple[str, str, str, str], bool]:
    """Everything but the port, and whether a port is written; ValueError for one that is not a number in range."""
    parts = urlsplit(uri)
    # Only the port may vary: userinfo or a malformed port stays in the compared host and fails the match.
    host = parts.netloc if parts.port is None else parts.netloc.rsplit(":", 1)[0]
    return (parts.scheme, host, parts.path, parts.query), parts.port is not None


def is_acceptable(requested: str) -> bool:
    """A requested redirect URI passes the rules of registration too (one registered before a rule was added)."""
    try:
        check_registrable(requested)
    except OAuthError:
        return False
    # urlsplit drops leading spaces and controls and every tab or line break: those URIs are not the same string.
    return not any(ch.isspace() or ord(ch) < 0x20 for ch in requested)


def matches(requested: str, registered: Iterable[str], *, port_may_vary: bool) -> bool:
    """Exact string match; for a public client's loopback IP redirect URIs the port may vary (RFC 8252 §7.3)."""
    registered = list(registered)
    if not is_acceptable(requested):
        return False
    if requested in registered:
        return True
    # RFC 8252 §7.3 is for native apps, which are public clients; a confidential client's URI is matched exactly.
    if not port_may_vary or not is_loopback(requested):
        return False
    wanted, has_port = _split_port(requested)
    for uri in registered:
        try:
            base, registered_port = _split_port(uri)
        except ValueError:
            continue
        # A registered port may change but not vanish: "http://127.0.0.1/cb" is port 80, not the app's listener.
        if is_loopback(uri) and base == wanted and (has_port or not registered_port):
            return True
    return False


def build_redirect(uri: str, params: Mapping[str, str | None]) -> str:
    """Add response parameters to the redirect URI, keeping its own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode({name: value for name, value in params.items() if value is not None})
    query = "&".join(part for part in (parts.query, extra) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
