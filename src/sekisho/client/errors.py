"""The client's expected failures: each one line a person can act on (the CLI prints it and exits 1)."""

from __future__ import annotations

MAX_MESSAGE = 300  # characters; text from a server is cut there


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` with control characters and whitespace runs made single spaces, cut at `limit` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ClientError(Exception):
    """Every expected failure of `sekisho.client`; `str(error)` says what went wrong and what to do next."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, limit=2 * MAX_MESSAGE))


class DiscoveryError(ClientError):
    """No usable RFC 8414 metadata: unreachable server, no document, wrong `issuer`, no S256."""


class NoMetadata(DiscoveryError):
    """The server answers, but publishes no metadata document at all (a Misskey older than 2023.9.0 does not)."""


class AuthorizationError(ClientError):
    """The redirect back from the browser is unusable: bad `state` or `iss`, an `error=`, or none came."""


class TokenError(ClientError):
    """The token or revocation endpoint refused (RFC 6749 §5.2) or gave no usable answer (`server_error`)."""

    def __init__(self, error: str, message: str, *, description: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.description = description


class TokenStoreError(ClientError):
    """A saved login that is missing, damaged, or readable by other users."""
