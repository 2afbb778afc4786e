"""The authorization server: async services over the `Store` protocol; only `web/` knows HTTP."""
