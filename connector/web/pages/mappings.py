"""Scan mappings: /mappings (built-in and saved), /mappings/{name} (its columns and severity
values; a saved one's values can be edited, values added, and the mapping deleted)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.errors import ImportFileError
from connector.importer.mapping import BUILTIN_MAPPINGS, ImportMapping, build_mapping
from connector.store import imports as store_imports
from connector.web import importflow
from connector.web.csrf import checked_form
from connector.web.pages.common import console_of, reading
from connector.web.state import Console
from connector.web.templates import render


def mappings_page(request: Request) -> Response:
    console = console_of(request)
    with reading(request) as conn:
        saved = store_imports.list_mappings(conn, console.connector)
    return render(request, "mappings.html", builtins=list(BUILTIN_MAPPINGS.values()), saved=saved)


def _load(console: Console, name: str) -> tuple[ImportMapping, store_imports.StoredMapping | None]:
    builtin = BUILTIN_MAPPINGS.get(name)
    if builtin is not None:
        return builtin, None
    with console.engine.connect() as conn:
        stored = store_imports.load_mapping(conn, console.connector, name)
    if stored is None:
        raise HTTPException(404, f"there is no mapping named {name!r}")
    return ImportMapping.from_json(stored.name, stored.definition), stored


def mapping_page(request: Request) -> Response:
    console = console_of(request)
    mapping, stored = _load(console, request.path_params["name"])
    values = {k: v.value for k, v in mapping.severity_values.items()}
    saved = request.query_params.get("saved") == "1"
    return _mapping_form(
        request, mapping, stored, values, extra=importflow.BLANK_ROWS, problems=[], saved=saved
    )


def _mapping_form(
    request: Request,
    mapping: ImportMapping,
    stored: store_imports.StoredMapping | None,
    values: dict[str, str],
    *,
    extra: int,
    problems: list[str],
    saved: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "mapping.html",
        mapping=mapping,
        stored=stored,
        rows=list(values.items()) + ([("", "")] * extra if stored is not None else []),
        extra=extra,
        labels=importflow.SEVERITY_LABELS,
        label=importflow.field_label,
        problems=problems,
        saved=saved,
        status=status,
    )


async def save_values(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    mapping, stored = await run_in_threadpool(_load, console, request.path_params["name"])
    if stored is None:
        raise HTTPException(403, f"{mapping.name!r} is a built-in mapping and cannot be changed")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    table, problems = importflow.read_severity_form(values)
    extra_text = values.get("extra", "")
    extra = min(int(extra_text), 50) if extra_text.isdigit() else importflow.BLANK_ROWS
    if form.get("action") == "add":
        return _mapping_form(request, mapping, stored, table, extra=extra + 1, problems=[])
    if not problems:
        try:
            updated = build_mapping(
                mapping.name,
                format_name=mapping.format.value,
                columns=dict(stored.definition.get("columns") or {}),
                severity_values={v: label for v, label in table.items() if label},
            )
        except ImportFileError as exc:
            problems = [str(exc)]
    if problems:
        return _mapping_form(
            request, mapping, stored, table, extra=extra, problems=problems, status=400
        )

    def save() -> None:
        with console.engine.begin() as conn:
            store_imports.save_mapping(
                conn, console.connector, updated.name, updated.to_json(), now=console.clock()
            )

    await run_in_threadpool(save)
    return RedirectResponse(f"/mappings/{quote(mapping.name, safe='')}?saved=1", status_code=303)


async def delete(request: Request) -> Response:
    await checked_form(request)
    console = console_of(request)
    name = request.path_params["name"]
    if name in BUILTIN_MAPPINGS:
        raise HTTPException(403, f"{name!r} is a built-in mapping and cannot be deleted")

    def remove() -> bool:
        with console.engine.begin() as conn:
            return store_imports.delete_mapping(conn, console.connector, name)

    if not await run_in_threadpool(remove):
        raise HTTPException(404, f"there is no mapping named {name!r}")
    return RedirectResponse("/mappings?deleted=" + quote(name, safe=""), status_code=303)


ROUTES = [
    Route("/mappings", mappings_page, methods=["GET"]),
    Route("/mappings/{name}/delete", delete, methods=["POST"]),
    Route("/mappings/{name}", mapping_page, methods=["GET"]),
    Route("/mappings/{name}", save_values, methods=["POST"]),
]
