"""Bearer tokens in the Authorization header and RFC 6750 challenges."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 4096
_NOT_VISIBLE = re.compile(r"[^\x20-\x7e]")


def parse_authorization(header: str | None, schemes: Collection[str] = ("bearer",)) -> str | None:
    """The token of `Authorization: Bearer <token>` (scheme case-insensitive), or None; `schemes`: those accepted,
    in lower case (`dpop` too where DPoP tokens are, RFC 9449 §7.1: the same token68 syntax)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in schemes or len(token) > MAX_TOKEN_LENGTH or not _B64TOKEN.fullmatch(token):
        return None
    return token


def challenge(
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    resource_metadata: str | None = None,
    *,
    scheme: str = "Bearer",
    algs: Sequence[str] = (),
) -> str:
    """The WWW-Authenticate value of RFC 6750 §3; `resource_metadata`: the URL of the resource server's metadata
    (RFC 9728 §5.1). `scheme="DPoP"` with `algs`: the challenge of RFC 9449 §7.1."""
    parts = ['realm="sekisho"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quote(description)}"')
    if scope:
        parts.append(f'scope="{_quote(scope)}"')
    if resource_metadata:
        parts.append(f'resource_metadata="{_quote(resource_metadata)}"')
    if algs:
        parts.append(f'algs="{_quote(" ".join(algs))}"')
    return f"{scheme} " + ", ".join(parts)


def _quote(text: str) -> str:
    # A header value is visible ASCII and spaces: a line break would end it (a 500 at best), and Starlette can
    # send nothing beyond Latin-1; RFC 6750 §3 allows only %x20-7E (without `"`) in these values anyway.
    text = _NOT_VISIBLE.sub("?", text)
    return text.replace("\\", "\\\\").replace('"', "'")
