"""Protected resource metadata (RFC 9728): what a resource server says of itself, where it says it, and the
`resource_metadata` every challenge of it points to. Sans-I/O; the adapters serve it (`sekisho.resource.starlette`,
`sekisho.resource.fastapi`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """A resource server, as RFC 9728 §2 describes it.

    `resource` is its identifier: the URL clients name as `resource` (RFC 8707) and that its tokens' audience must
    hold (give it to the verifier as `audience=`). https, or http for local use; no fragment, no query (RFC 9728 §2:
    SHOULD NOT, and sekisho's well-known paths hold only a path). `authorization_servers`: issuer URLs whose tokens
    it takes (RFC 8414). `scopes_supported`: the scopes its endpoints ask for."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()
    bearer_methods_supported: tuple[str, ...] = ("header",)
    resource_name: str | None = None
    resource_documentation: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.resource)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"resource must be an https URL (http for local use), not {self.resource!r}")
        if parts.query or parts.fragment or "#" in self.resource or "?" in self.resource:
            raise ValueError("resource must have neither a query nor a fragment")
        if isinstance(self.authorization_servers, str) or isinstance(self.scopes_supported, str):
            raise ValueError("authorization_servers and scopes_supported are sequences of strings")

    def metadata(self) -> dict[str, Any]:
        """The JSON document of RFC 9728 §2 (members with no value left out)."""
        document: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": list(self.bearer_methods_supported),
        }
        if self.scopes_supported:
            document["scopes_supported"] = list(self.scopes_supported)
        if self.resource_name is not None:
            document["resource_name"] = self.resource_name
        if self.resource_documentation is not None:
            document["resource_documentation"] = self.resource_documentation
        return document

    @property
    def path(self) -> str:
        """The resource's path; "" for none or "/" (RFC 9728 §3.1: the slash after the host is removed)."""
        path = urlsplit(self.resource).path
        return "" if path == "/" else path

    @property
    def well_known_paths(self) -> tuple[str, ...]:
        """Where on its host the document is served: RFC 9728 §3.1's path (the well-known string inserted between the
        host and the resource's path), and, for a resource with a path, the bare well-known path too, for clients
        that look only there."""
        if not self.path:
            return (WELL_KNOWN,)
        return (WELL_KNOWN + self.path, WELL_KNOWN)

    @property
    def metadata_url(self) -> str:
        """The document's URL (RFC 9728 §3.1), which challenges name as `resource_metadata` (§5.1)."""
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{self.well_known_paths[0]}"
