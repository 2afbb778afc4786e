"""How the OAuth endpoints speak: sekisho's own way, or X's (its OAuth 2.0 paths, for the stand-in).

X's differences, from https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token and
https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code: the paths (`/i/oauth2/authorize`,
`/2/oauth2/token`, `/2/oauth2/revoke`); `code_challenge_method` taken in any case; access tokens for two hours; a
refresh token only when `offline.access` was granted; `token_type` "bearer"; revocation answering
`{"revoked": true}`; no `iss` in the redirect back (X publishes no issuer); the client secret taken in the Basic
header and the body at once when they agree. The checks themselves are the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OAuthDialect:
    name: str
    authorize_path: str = "/oauth/authorize"
    method_any_case: bool = False  # code_challenge_method compared case-insensitively (`plain` refused all the same)
    access_token_ttl: int | None = None  # None: the server's setting
    refresh_needs_scope: str | None = None  # a refresh token only if this scope was granted
    token_type: str = "Bearer"
    revoked_body: dict[str, Any] | None = None  # None: an empty 200 (RFC 7009 §2.2)
    issuer_in_redirect: bool = True  # RFC 9207 `iss` on the redirect back
    grant_types: frozenset[str] | None = None  # None: every grant the server has
    same_secret_twice: bool = False  # a body client_secret equal to the Basic one is let through
    pushed_requests: bool = True  # /authorize takes a request_uri from /oauth/par (RFC 9126 §4)

    def may_refresh(self, scope: str) -> bool:
        """Whether tokens for `scope` may come with a refresh token, by this dialect's rule."""
        return self.refresh_needs_scope is None or self.refresh_needs_scope in scope.split()


SEKISHO = OAuthDialect("sekisho")

X = OAuthDialect(
    "x",
    authorize_path="/i/oauth2/authorize",
    method_any_case=True,
    access_token_ttl=7200,  # "access tokens … valid for two hours" (user-access-token page)
    refresh_needs_scope="offline.access",  # "a refresh token … if the offline.access scope is applied"
    token_type="bearer",  # X's token responses say "bearer" (RFC 6749 §7.1: case-insensitive)
    revoked_body={"revoked": True},
    issuer_in_redirect=False,
    grant_types=frozenset({"authorization_code", "refresh_token"}),  # app-only tokens are at /oauth2/token
    same_secret_twice=True,  # X takes Basic and the same secret in the body, which twitter-api-v2 sends
    pushed_requests=False,  # X has no pushed authorization requests: a request_uri is ignored
)
