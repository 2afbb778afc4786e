"""Scopes: the known lists, and the rules of CONTRACT.md §3 (RFC 6749 §3.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sekisho.errors import InvalidScope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

_MISSKEY_KINDS: dict[str, str] = {
    "account": "your account information",
    "blocks": "your blocks",
    "drive": "your drive files",
    "favorites": "your favorites",
    "following": "who you follow",
    "messaging": "your chats",
    "mutes": "your mutes",
    "notifications": "your notifications",
    "reactions": "your reactions",
    "pages": "your pages",
    "page-likes": "your page likes",
    "user-groups": "your user groups",
    "channels": "your channels",
    "gallery": "your gallery posts",
    "gallery-likes": "your gallery likes",
    "flash": "your Play items",
    "flash-likes": "your Play likes",
}

MISSKEY_SCOPES: dict[str, str] = {
    "write:notes": "Post and delete notes as you",
    "write:votes": "Vote in polls as you",
    **{f"read:{kind}": f"Read {what}" for kind, what in _MISSKEY_KINDS.items()},
    **{f"write:{kind}": f"Change {what}" for kind, what in _MISSKEY_KINDS.items()},
}

X_SCOPES: dict[str, str] = {
    "tweet.read": "Read posts you can see",
    "tweet.write": "Post and delete posts as you",
    "tweet.moderate.write": "Hide and unhide replies to your posts",
    "users.read": "Read your profile and other accounts",
    "follows.read": "See who you follow and who follows you",
    "follows.write": "Follow and unfollow accounts as you",
    "offline.access": "Stay connected when you are not using the app",
    "like.read": "See posts you liked",
    "like.write": "Like and unlike posts as you",
    "list.read": "Read your lists",
    "list.write": "Change your lists",
    "mute.read": "See accounts you muted",
    "mute.write": "Mute and unmute accounts as you",
    "block.read": "See accounts you blocked",
    "block.write": "Block and unblock accounts as you",
    "bookmark.read": "Read your bookmarks",
    "bookmark.write": "Change your bookmarks",
    "dm.read": "Read your direct messages",
    "dm.write": "Send direct messages as you",
    "media.write": "Upload media as you",
}

DEFAULT_SCOPES: dict[str, str] = {**MISSKEY_SCOPES, **X_SCOPES}


def split_scope(raw: str) -> tuple[str, ...]:
    """Space-separated scope tokens, duplicates removed keeping their first position."""
    tokens = [token for token in raw.split(" ") if token]
    return tuple(dict.fromkeys(tokens))


def check_scope(
    raw: str | None,
    *,
    known: Mapping[str, str],
    allowed: Iterable[str] | None,
    default: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The granted scope: requested ∩ known ∩ allowed, in request order; unknown scopes are dropped."""
    if raw is None:
        if not default:
            raise InvalidScope("scope is required")
        return default
    allowed_set = frozenset(allowed) if allowed is not None else None
    granted = tuple(
        token
        for token in split_scope(raw)
        if _SCOPE_TOKEN.fullmatch(token) and token in known and (allowed_set is None or token in allowed_set)
    )
    if not granted:
        raise InvalidScope("none of the requested scopes is known to this server or allowed for this client")
    return granted


def check_narrowing(raw: str | None, original: tuple[str, ...]) -> tuple[str, ...]:
    """RFC 6749 §6: a refresh may ask for less than the original grant, never more."""
    if raw is None:
        return original
    requested = split_scope(raw)
    extra = [token for token in requested if token not in original]
    if extra:
        raise InvalidScope(f"scope {extra[0]!r} was not part of the original grant")
    if not requested:
        raise InvalidScope("scope must not be empty")
    return requested


def describe(scope: Iterable[str], known: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each scope with its words for the consent page."""
    return [(token, known.get(token, token)) for token in scope]


def join_scope(scope: Iterable[str]) -> str:
    return " ".join(scope)
