"""sekisho: OAuth 2.0 authorization code + PKCE, end to end."""

__version__ = "0.1.0"
