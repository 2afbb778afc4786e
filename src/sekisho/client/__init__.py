"""The OAuth client: discovery, PKCE, loopback receiver, token store, refreshing httpx.Auth (issue 5).

Never imports `sekisho.server`; importing it loads no SQLAlchemy.

discovery (RFC 8414) · authorization (PKCE, state, RFC 9207 iss) · oauth (token endpoint, revocation) ·
token_store (saved logins) · refresh (one refresh across processes) · auth (`SekishoAuth`, an `httpx.Auth`) ·
errors (`ClientError` and its kinds). docs/client-library.md describes the API.
"""
