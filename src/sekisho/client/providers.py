"""Provider profiles: where to authorize, get tokens and post, for sekisho (and any RFC 8414 server), Misskey and X.

sekisho and Misskey publish RFC 8414 metadata and speak Misskey's API dialect (`/api/i`, `/api/notes/create`); X
publishes no metadata (PROVIDERS.md), so its endpoints are built in; given a server (a local stand-in, `sekisho serve
--demo-api`), X's paths are taken on it instead (`/i/oauth2/authorize`, `/2/oauth2/token`, `/2/oauth2/revoke`, `/2/…`),
and each can still be pointed elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import httpx

from sekisho.client.discovery import discover, issuer_from
from sekisho.client.errors import ClientError, NoMetadata

Dialect = Literal["misskey", "x"]
PROVIDERS: Final = ("sekisho", "misskey", "x")
DEFAULT_SCOPES: Final = {
    "sekisho": "read:account write:notes",
    "misskey": "read:account write:notes",
    "x": "tweet.read tweet.write users.read offline.access",  # offline.access: X's refresh tokens (PROVIDERS.md)
}
X_AUTHORIZE: Final = "https://x.com/i/oauth2/authorize"
X_TOKEN: Final = "https://api.x.com/2/oauth2/token"
X_REVOKE: Final = "https://api.x.com/2/oauth2/revoke"
X_API: Final = "https://api.x.com"
X_PATHS: Final = ("/i/oauth2/authorize", "/2/oauth2/token", "/2/oauth2/revoke")  # at x.com and api.x.com


@dataclass(frozen=True, slots=True)
class Api:
    """Where posts go, and in which dialect; kept with each account."""

    provider: str
    issuer: str  # the server's identity; for X, its API's origin
    api_base: str  # Misskey dialect: …/api ; X: the origin of /2/…

    @property
    def dialect(self) -> Dialect:
        return "x" if self.provider == "x" else "misskey"

    def post_url(self, note_id: str, username: str | None) -> str:
        """Where a person sees a post in a browser."""
        if self.provider == "x":
            return f"https://x.com/{username or 'i/web'}/status/{note_id}"
        if self.provider == "sekisho":
            return f"{self.issuer}/@{username}#note-{note_id}"
        return f"{self.issuer}/notes/{note_id}"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Everything a login needs to know about one server."""

    api: Api
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    expected_iss: str | None  # RFC 9207: the `iss` the redirect must carry, or None when the server sends none
    iss_required: bool
    accepts_url_client_ids: bool
    miauth: bool = False  # Misskey's MiAuth instead of OAuth: authorization_endpoint is then `…/miauth`
    demo_client_id: str | None = None  # a sekisho started with --demo: its public demo app, usable with no client id
    device_authorization_endpoint: str | None = None  # RFC 8628: where `login --device` starts
    pushed_authorization_request_endpoint: str | None = None  # RFC 9126: requests are pushed there first
    dpop_algorithms: tuple[str, ...] = ()  # RFC 9449 §5.1: the server binds tokens to keys proven with these


async def resolve(
    provider: str,
    server: str | None,
    http: httpx.AsyncClient,
    *,
    authorize_url: str | None = None,
    token_url: str | None = None,
    api_url: str | None = None,
    revoke_url: str | None = None,
    miauth: bool = False,
) -> Endpoints:
    """Where to log in; a Misskey without metadata (older than 2023.9.0), or `miauth=True`, gets MiAuth."""
    if provider not in PROVIDERS:
        raise ClientError(f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    if provider == "x":
        return _x(authorize_url, token_url, api_url, revoke_url, stand_in=issuer_from(server) if server else None)
    if not server:
        raise ClientError(f"which server? e.g. `sekisho login misskey.example --provider {provider}`")
    if miauth and provider != "misskey":
        raise ClientError("MiAuth is Misskey's: use it with --provider misskey")
    issuer = issuer_from(server)
    if miauth:
        return _miauth(issuer, api_url)
    try:
        metadata = await discover(issuer, http)
    except NoMetadata:
        if provider != "misskey":
            raise
        return _miauth(issuer, api_url)  # PROVIDERS.md: OAuth support is told by the metadata document
    return Endpoints(
        api=Api(provider, metadata.issuer, (api_url or metadata.issuer).rstrip("/") + "/api"),
        authorization_endpoint=metadata.authorization_endpoint,
        token_endpoint=metadata.token_endpoint,
        revocation_endpoint=metadata.revocation_endpoint,
        expected_iss=metadata.issuer,
        iss_required=metadata.authorization_response_iss_parameter_supported,
        accepts_url_client_ids=provider == "misskey" or metadata.client_id_metadata_document_supported,
        demo_client_id=metadata.demo_client_id if provider == "sekisho" else None,
        device_authorization_endpoint=metadata.device_authorization_endpoint,
        pushed_authorization_request_endpoint=metadata.pushed_authorization_request_endpoint,
        dpop_algorithms=metadata.dpop_signing_alg_values_supported,
    )


def _x(
    authorize_url: str | None,
    token_url: str | None,
    api_url: str | None,
    revoke_url: str | None,
    *,
    stand_in: str | None = None,
) -> Endpoints:
    """X's endpoints, on `stand_in` (an origin serving X's paths) when given; each override wins."""
    if stand_in is not None:
        authorize, token_at, revoke_at = (stand_in + path for path in X_PATHS)
        authorize_url, token_url = authorize_url or authorize, token_url or token_at
        revoke_url, api_url = revoke_url or (None if token_url != token_at else revoke_at), api_url or stand_in
    token = token_url or X_TOKEN
    if revoke_url is None:
        # Beside the token endpoint, as at X (…/oauth2/token, …/oauth2/revoke) and at sekisho (…/oauth/…).
        revoke_url = token.rsplit("/", 1)[0] + "/revoke" if token_url else X_REVOKE
    api = (api_url or X_API).rstrip("/")
    return Endpoints(
        api=Api("x", api, api),
        authorization_endpoint=authorize_url or X_AUTHORIZE,
        token_endpoint=token,
        revocation_endpoint=revoke_url,
        expected_iss=None,  # X sends no `iss`; one that arrives anyway must not be trusted blindly
        iss_required=False,
        accepts_url_client_ids=False,
    )


def _miauth(issuer: str, api_url: str | None) -> Endpoints:
    return Endpoints(
        api=Api("misskey", issuer, (api_url or issuer).rstrip("/") + "/api"),
        authorization_endpoint=f"{issuer}/miauth",
        token_endpoint=f"{issuer}/api/miauth",
        revocation_endpoint=None,  # MiAuth tokens never expire; the user revokes them in the server's settings
        expected_iss=None,
        iss_required=False,
        accepts_url_client_ids=False,
        miauth=True,
    )
