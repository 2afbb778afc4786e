"""The HTTP `Link` header (RFC 8288 §3): every target of a relation, in order."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin

MAX_LINKS = 100


def _split(value: str, separator: str) -> list[str]:
    """Split on `separator` outside <…> and "…"."""
    parts: list[str] = []
    current: list[str] = []
    in_uri = in_quote = False
    for ch in value:
        if ch == "<" and not in_quote:
            in_uri = True
        elif ch == ">" and not in_quote:
            in_uri = False
        elif ch == '"' and not in_uri:
            in_quote = not in_quote
        if ch == separator and not in_uri and not in_quote:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def targets(headers: Iterable[str], relation: str, base: str) -> list[str]:
    """The absolute targets of `rel=relation` links in the header values, relative ones resolved against `base`."""
    found: list[str] = []
    for header in headers:
        for link in _split(header, ","):
            link = link.strip()
            if not link.startswith("<") or ">" not in link:
                continue
            target, _, params = link[1:].partition(">")
            rels: list[str] = []
            for param in _split(params, ";"):
                name, _, value = param.strip().partition("=")
                if name.strip().lower() == "rel":
                    rels = value.strip().strip('"').lower().split()
                    break
            if relation in rels:
                try:
                    found.append(urljoin(base, target.strip()))
                except ValueError:  # e.g. an unclosed IPv6 literal: not a target, and not a 500
                    continue
            if len(found) >= MAX_LINKS:
                return found
    return found
