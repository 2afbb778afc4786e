"""The demo notes API: a resource server built on `sekisho.resource`."""
