"""Client identifiers that are URLs (IndieAuth §3.2, Misskey, the OAuth Client ID Metadata Document draft).

Normalisation is applied the same way at every step (authorize and token), so that a client that sends the same
string twice always succeeds, and `https://app.example` and `https://app.example/` name one client.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote, urlsplit, urlunsplit

from sekisho.errors import InvalidClient

MAX_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_url(client_id: str) -> bool:
    return client_id[:8].lower().startswith(("https://", "http://"))


def normalize(client_id: str, *, allow_private: bool) -> str:
    """The canonical form of a URL client id, or `invalid_client` saying which rule it breaks."""

    def refuse(reason: str) -> InvalidClient:
        return InvalidClient(f"client_id {reason}", status=400)

    if len(client_id) > MAX_LENGTH:
        raise refuse("is too long")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in client_id):
        raise refuse("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(client_id)
        port = parts.port
    except ValueError as exc:
        raise refuse("is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise refuse("must be an https URL")
    if "#" in client_id:
        raise refuse("must not have a fragment")
    if "@" in parts.netloc:
        raise refuse("must not contain a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise refuse("must have a host")
    if _is_ip(host) and not (allow_private and host in LOOPBACK_NAMES):
        raise refuse("must use a domain name, not an IP address")
    if not allow_private and (host in LOOPBACK_NAMES or host.endswith(".localhost")):
        raise refuse("must not point at this machine")
    path = parts.path or "/"  # IndieAuth: no path is the path "/"
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise refuse("must not contain . or .. path segments")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"https": 443, "http": 80}[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
