"""sekisho's app as `sekisho serve` runs it: the server, with the demo mounted into it when --demo-api (or --demo)
is on. The server itself never imports the demo."""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from starlette.applications import Starlette

from sekisho import demo
from sekisho.server.settings import Settings, from_environment
from sekisho.server.web import app as server


def create_app(settings: Settings, **options: Any) -> Starlette:
    """The server's app (`options` go to sekisho.server.web.app.create_app), the demo's routes in it if on, and X's
    OAuth paths with them (the X stand-in)."""
    plugins = (partial(demo.mount, x_rate_limits=settings.x_rate_limits), server.x_oauth) if settings.demo_api else ()
    return server.create_app(settings, plugins=plugins, **options)


def create_app_from_environment() -> Starlette:
    """The factory uvicorn's worker processes call (`sekisho serve --workers N`): settings from SEKISHO_*."""
    app = create_app(from_environment(os.environ), migrate=False)
    server.settle_for_serving()
    return app
