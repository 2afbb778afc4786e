"""The OAuth client: discovery, PKCE, loopback receiver, token store, refreshing httpx.Auth (issue 5).

Never imports `sekisho.server`; importing it loads no SQLAlchemy.
"""
