"""Jinja2 templates (autoescaped: every value from Qualys or a file is escaped) and the filters
the pages share: dates, numbers, durations, severity classes, URL-safe keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from connector.models import Severity
from connector.web.sanitize import kb_html

SEVERITIES = [str(s) for s in Severity][::-1]  # Critical first, as the pages list them


def fmt_dt(value: datetime | None, empty: str = "-") -> str:
    if value is None:
        return empty
    return value.strftime("%Y-%m-%d %H:%M UTC")


def fmt_num(value: int | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def fmt_duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max((end - start).total_seconds(), 0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def sev_class(severity: str | None) -> str:
    return f"sev sev-{(severity or 'none').lower()}"


def keyurl(key: object) -> str:
    """A record key as one path segment (keys hold '/', ':' and '|')."""
    return quote(str(key), safe="")


def query(params: Mapping[str, Any], **changes: Any) -> str:
    """`?a=1&b=2` from params with changes applied (None removes a key; lists repeat it)."""
    merged: dict[str, Any] = {k: v for k, v in params.items() if v not in (None, "", [])}
    for key, value in changes.items():
        if value in (None, "", []):
            merged.pop(key, None)
        else:
            merged[key] = value
    pairs = [
        (k, str(item))
        for k, v in merged.items()
        for item in (v if isinstance(v, list | tuple) else [v])
    ]
    return "?" + urlencode(pairs) if pairs else "?"


ENV = Environment(
    loader=PackageLoader("connector.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    dt=fmt_dt, num=fmt_num, sev=sev_class, keyurl=keyurl, kb_html=kb_html, duration=fmt_duration
)
ENV.globals.update(SEVERITIES=SEVERITIES, query=query)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `name` with the request's session (user, CSRF token) in its context."""
    session = request.scope.get("console.session")
    console = request.app.state.console
    body = ENV.get_template(template).render(
        request=request,
        session=session,
        csrf_token=session.csrf_token if session is not None else "",
        connector=console.connector,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(body, status_code=status)
