"""Who may see the console: the login and logout pages, and the middleware that lets nothing else
through without a live session (pages redirect to /login, anything else gets 401)."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connector.web.csrf import checked_form
from connector.web.sessions import COOKIE, LOGIN_COOKIE
from connector.web.state import Console
from connector.web.templates import render

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/login",)
PUBLIC_PREFIXES = ("/static/",)
REFUSED = "wrong username or password"


class RequireLogin:
    """Puts the live session in scope["console.session"]; without one, nothing is served."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        session = self.console.sessions.find(conn.cookies.get(COOKIE))
        scope["console.session"] = session
        path = scope["path"]
        if session is not None or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        response: Response
        if scope["method"] in ("GET", "HEAD") and not path.endswith((".csv", ".jsonl")):
            raw_query = scope["query_string"].decode("latin-1")
            target = path + (f"?{raw_query}" if raw_query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        else:
            response = PlainTextResponse("login required", status_code=401)
        await response(scope, receive, send)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme) is followed after login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    if request.scope.get("console.session") is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    target = _safe_next(request.query_params.get("next"))
    return _login_form(request, console, status=200, error=None, username="", target=target)


def _login_form(
    request: Request,
    console: Console,
    *,
    status: int,
    error: str | None,
    username: str,
    target: str,
) -> Response:
    token, nonce = console.sessions.login_token()
    response = render(
        request,
        "login.html",
        status=status,
        login_token=token,
        error=error,
        username=username,
        next=target,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=console.config.web.secure_cookie,
    )
    return response


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    form = await request.form()
    token = form.get("csrf_token")
    if not console.sessions.login_token_ok(
        token if isinstance(token, str) else None, request.cookies.get(LOGIN_COOKIE)
    ):
        raise HTTPException(403, "the login form expired: reload the page and log in again")
    username = str(form.get("username") or "")
    target = _safe_next(str(form.get("next") or "/"))
    password = str(form.get("password") or "")
    web = console.config.web
    expected = web.password.reveal() if web.password else ""
    user_ok = secrets.compare_digest(username.encode(), web.username.encode())
    password_ok = bool(expected) and secrets.compare_digest(password.encode(), expected.encode())
    if not (user_ok and password_ok):
        delay = console.throttle.failed(_client(request))
        log.warning("failed console login for user %r from %s", username[:100], _client(request))
        await console.sleep(delay)
        return _login_form(
            request, console, status=401, error=REFUSED, username=username, target=target
        )
    console.throttle.succeeded(_client(request))
    session, cookie = console.sessions.create(web.username)
    log.info("console login: %s from %s", web.username, _client(request))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(console.sessions.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=web.secure_cookie,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    console: Console = request.app.state.console
    await checked_form(request)
    session = request.scope["console.session"]
    console.sessions.end(session.sid)
    console.uploads.discard_owner(session.sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
