"""The console's Starlette application: routes of every page module, the login wall, security
headers, the request size cap, and error pages without tracebacks."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from connector.errors import ConnectorError
from connector.web import auth, security
from connector.web.pages import (
    assets,
    checks,
    findings,
    imports,
    mappings,
    overview,
    runs,
    weaknesses,
)
from connector.web.state import Console

FORM_SLACK_BYTES = 1024 * 1024  # the other fields of an upload form, on top of the file


def routes() -> list[BaseRoute]:
    pages = (overview, findings, assets, weaknesses, runs, imports, mappings, checks)
    static = StaticFiles(packages=[("connector.web", "static")])
    return [
        *auth.ROUTES,
        *(route for module in pages for route in module.ROUTES),
        Mount("/static", app=static, name="static"),
    ]


def create_app(console: Console) -> Starlette:
    """The ASGI application for one console (one connector's store)."""
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(security.SecurityHeaders),
            Middleware(
                RequestBodyLimitMiddleware,
                max_body_size=console.config.web.upload_max_bytes + FORM_SLACK_BYTES,
            ),
            Middleware(auth.RequireLogin, console=console),
        ],
        exception_handlers={
            HTTPException: security.http_error,
            ConnectorError: security.connector_error,
            Exception: security.server_error,
        },
    )
    app.state.console = console
    return app
