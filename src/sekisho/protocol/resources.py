"""Resource indicators (RFC 8707): the `resource` parameter's values, which resources a client may name, and the
audience a token gets. A token's resources are stored and compared as exact strings, space-separated (an absolute URI
holds no space); None is a token issued without `resource`, whose audience is the server's default."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

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


def check_resources(values: Sequence[str], allowed: Collection[str]) -> tuple[str, ...]:
    """The resources asked for, each an absolute URI without fragment and one of `allowed`, duplicates removed in
    order; `invalid_target` for any other."""
    if len(values) > MAX_RESOURCES:
        raise InvalidTarget(f"at most {MAX_RESOURCES} resources may be asked for at once")
    asked = tuple(dict.fromkeys(check_uri(value) for value in values))
    for resource in asked:
        if resource not in allowed:
            raise InvalidTarget(f"the resource {resource!r} is not served by this server for this client")
    return asked


def narrow(values: Sequence[str], granted: str | None, allowed: Collection[str]) -> str | None:
    """The resources of an access token asked for with `values` (RFC 8707 §2.2): with none asked, the grant's
    (`granted`); else they must lie within the grant's, or, for a grant made without `resource`, within `allowed`.
    Never wider than the grant: `invalid_target` otherwise."""
    if not values:
        return granted
    within = allowed if granted is None else split(granted)
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
