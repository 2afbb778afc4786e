"""The HTTP face of the authorization server: the only place that imports Starlette."""
