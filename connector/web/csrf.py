"""CSRF protection: every POST form carries the session's token in `csrf_token`; a POST without
it, or with another one, is refused with 403 before the handler does anything."""

from __future__ import annotations

import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

FIELD = "csrf_token"
REFUSED = "this form's security token is missing or out of date: reload the page and try again"


async def checked_form(request: Request) -> FormData:
    """The POST's form, once its CSRF token matched the session's (else HTTP 403)."""
    session = request.scope.get("console.session")
    form = await request.form()
    token = form.get(FIELD)
    if (
        session is None
        or not isinstance(token, str)
        or not secrets.compare_digest(token.encode(), session.csrf_token.encode())
    ):
        await form.close()
        raise HTTPException(403, REFUSED)
    return form
