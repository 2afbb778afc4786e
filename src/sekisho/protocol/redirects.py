"""Redirect URIs: registration rules, matching (RFC 6749 §3.1.2, RFC 8252 §7.3) and building."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from sekisho.errors import InvalidRequest

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem"})


def is_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. "http://[oops": not a URI at all, so not a loopback one
        return False
    host = parts.netloc.rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


def check_registrable(uri: str) -> str:
    """A redirect URI a client may register: absolute, no fragment, no dangerous scheme."""
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
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise InvalidRequest(f"redirect URI {uri!r} has no host")
    if parts.scheme == "http" and not is_loopback(uri) and parts.hostname != "localhost":
        raise InvalidRequest(f"redirect URI {uri!r} must use https (http only for loopback)")
    return uri


def _without_port(uri: str) -> tuple[str, str, str, str]:
    """Everything but the port; raises ValueError for a port that is not a number in range."""
    parts = urlsplit(uri)
    # Only the port may vary: userinfo or a malformed port stays in the compared host and fails the match.
    host = parts.netloc if parts.port is None else parts.netloc.rsplit(":", 1)[0]
    return parts.scheme, host, parts.path, parts.query


def matches(requested: str, registered: Iterable[str]) -> bool:
    """Exact string match; for loopback IP redirect URIs any port is allowed (RFC 8252 §7.3)."""
    registered = list(registered)
    if requested in registered:
        return True
    # urlsplit drops leading spaces and controls and every tab or line break: those URIs are not the same string.
    if not is_loopback(requested) or "#" in requested or any(ch.isspace() or ord(ch) < 0x20 for ch in requested):
        return False
    try:
        wanted = _without_port(requested)
        return any(is_loopback(uri) and _without_port(uri) == wanted for uri in registered)
    except ValueError:
        return False


def build_redirect(uri: str, params: Mapping[str, str | None]) -> str:
    """Add response parameters to the redirect URI, keeping its own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode({name: value for name, value in params.items() if value is not None})
    query = "&".join(part for part in (parts.query, extra) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
