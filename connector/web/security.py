"""Response headers every console page gets (a CSP without inline script, no framing, no caching
of pages holding findings) and the Server-Timing figure; plus the error pages, which never show a
traceback: the browser gets one line, the log gets the details."""

from __future__ import annotations

import logging
import secrets
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.web.templates import render

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds HEADERS, `Cache-Control: no-store` (static files excepted) and Server-Timing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers.extend(HEADERS)
                cache = b"public, max-age=3600" if static else b"no-store"
                headers.append((b"cache-control", cache))
                elapsed = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """404, 403, 413...: the error page with the exception's one-line detail."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    return render(request, "error.html", status=status, status_code=status, message=detail)


async def connector_error(request: Request, exc: Exception) -> Response:
    """A ConnectorError (the database is down, a bad file...): its one-line message, status 500."""
    log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return render(request, "error.html", status=500, status_code=500, message=str(exc))


async def server_error(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback under an id; the browser gets only the id."""
    ref = secrets.token_hex(4)
    log.error("%s %s failed [ref %s]", request.method, request.url.path, ref, exc_info=exc)
    message = f"Something went wrong on the server (reference {ref}); the details are logged."
    response: Response
    try:
        response = render(request, "error.html", status=500, status_code=500, message=message)
    except Exception:  # noqa: BLE001 - the error page itself failed: plain text, still no trace
        response = Response(message, status_code=500, media_type="text/plain")
    # This handler runs outside the middleware that adds these to every other response.
    for name, value in HEADERS:
        response.headers[name.decode()] = value.decode()
    response.headers["cache-control"] = "no-store"
    return response
