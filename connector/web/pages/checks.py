"""/connectivity (runs test-connectivity, each check shown) and /validate (Qualys' counts against
the store). Both call Qualys, so they run on a POST from their page's button, not on every view."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.connectivity import CHECK_NAMES, exit_code_for
from connector.errors import ConnectorError
from connector.web.csrf import checked_form
from connector.web.pages.common import console_of
from connector.web.templates import render

log = logging.getLogger(__name__)


def connectivity_page(request: Request) -> Response:
    return render(request, "connectivity.html", results=None, check_names=CHECK_NAMES)


async def run_connectivity(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    results = await run_in_threadpool(console.check_connectivity)
    failed = [r.name for r in results if not r.ok and not r.skipped]
    return render(
        request,
        "connectivity.html",
        results=results,
        check_names=CHECK_NAMES,
        ok=not failed,
        failed=failed,
        passed=sum(r.ok for r in results),
        exit_code=int(exit_code_for(results)),
    )


def validate_page(request: Request) -> Response:
    return render(request, "validate.html", report=None, error=None)


async def run_validate(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    try:
        report = await run_in_threadpool(console.run_validation)
    except ConnectorError as exc:
        log.warning("validation from the console failed: %s", exc)
        return render(request, "validate.html", report=None, error=str(exc), status=502)
    return render(request, "validate.html", report=report, error=None)


ROUTES = [
    Route("/connectivity", connectivity_page, methods=["GET"]),
    Route("/connectivity", run_connectivity, methods=["POST"]),
    Route("/validate", validate_page, methods=["GET"]),
    Route("/validate", run_validate, methods=["POST"]),
]
