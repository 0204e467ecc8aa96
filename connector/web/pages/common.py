"""What the page modules share: the console from the request, multi-valued query parameters,
and lookups that turn a missing record into a 404."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection
from starlette.exceptions import HTTPException
from starlette.requests import Request

from connector.web.state import Console


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


@contextmanager
def reading(request: Request) -> Iterator[Connection]:
    """A connection to the store for one page."""
    with console_of(request).engine.connect() as conn:
        yield conn


def multi(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all its values."""
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    return values


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} is not in the store")


def int_param(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise not_found(what)
    return int(text)
