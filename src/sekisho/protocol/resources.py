"""Resource indicators (RFC 8707): the `resource` parameter's values, which resources a client may name, and the
audience a token gets. A resource asked for is compared with those allowed as RFC 3986 normalizes http(s) URLs
(`canonical`) and stored as the allowed one is spelled, so a token's audience is always spelled as the resource
server was configured; a token's resources are stored space-separated (an absolute URI holds no space); None is a
token issued without `resource`, whose audience is the server's default."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit, urlunsplit

from sekisho.errors import InvalidTarget

# RFC 3986 §4.3: absolute-URI = scheme ":" hier-part [ "?" query ]; visible ASCII only (a URI has no spaces).
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")
MAX_RESOURCES = 16  # per request: more is an abuse, never a need


def check_uri(value: str) -> str:
    """`value` if it is an absolute URI without a fragment (RFC 8707 §2); `invalid_target` otherwise."""
    if not _ABSOLUTE_URI.fullmatch(value):
        raise InvalidTarget("resource must be an absolute URI")
    if "#" in value:
        raise InvalidTarget("resource must not contain a fragment")
    return value


def canonical(uri: str) -> str:
    """`uri` as RFC 3986 §6.2.2-6.2.3 compares it, for http(s) URLs: scheme and host in lower case, no default port,
    an empty path as "/" (`http://a.example` and `http://A.example:80/` are one resource; pydantic, which the MCP
    SDK reads metadata with, adds that slash). Other URIs as they are."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return uri
    host = parts.netloc.lower().removesuffix(_DEFAULT_PORTS[scheme])
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def check_resources(values: Sequence[str], allowed: Collection[str]) -> tuple[str, ...]:
    """The resources asked for, each an absolute URI without fragment and one of `allowed` (compared as `canonical`
    spells them), as `allowed` spells them, duplicates removed in order; `invalid_target` for any other."""
    if len(values) > MAX_RESOURCES:
        raise InvalidTarget(f"at most {MAX_RESOURCES} resources may be asked for at once")
    spelled = {canonical(resource): resource for resource in allowed}
    found = []
    for value in values:
        resource = spelled.get(canonical(check_uri(value)))
        if resource is None:
            shown = value if len(value) <= 200 else value[:200] + "..."
            raise InvalidTarget(f"the resource {shown!r} is not served by this server for this client")
        found.append(resource)
    return tuple(dict.fromkeys(found))


def narrow(values: Sequence[str], granted: str | None, default: str) -> str | None:
    """The resources of an access token asked for with `values` (RFC 8707 §2.2): with none asked, the grant's
    (`granted`); else they must lie within the grant's, and a grant made without `resource` is for the `default`
    audience (the issuer) alone: the person consented to no other. Never wider: `invalid_target` otherwise."""
    if not values:
        return granted
    within = (default,) if granted is None else split(granted)
    asked = check_resources(values, within)
    return join(asked)


def split(resources: str | None) -> tuple[str, ...]:
    return () if resources is None else tuple(resources.split())


def join(resources: Sequence[str]) -> str | None:
    return " ".join(resources) if resources else None


def audience(resources: str | None, default: str) -> str | tuple[str, ...]:
    """A JWT's `aud` (RFC 9068 §2.2, RFC 8707 §2): the one resource, a list of several, or `default` for none."""
    found = split(resources)
    if not found:
        return default
    return found[0] if len(found) == 1 else found


def names(audience: Collection[str], resource: str) -> bool:
    """Whether a token's `audience` names `resource`, compared as `canonical` spells them."""
    wanted = canonical(resource)
    return any(canonical(each) == wanted for each in audience)
