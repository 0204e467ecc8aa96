"""Imported scans (/imports, /imports/{id}: the summary, re-viewable) and the import flow of the
seed product: upload a file (/imports/new) -> the built-in Qualys WAS mapping, a saved mapping, or
a new one (fields, then severity values, adding values the file lacks) -> import -> View Summary.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.errors import ImportFileError
from connector.importer.mapping import (
    BUILTIN_FOR_FORMAT,
    BUILTIN_MAPPINGS,
    FIELDS,
    ImportFormat,
    build_mapping,
)
from connector.importer.summary import ImportSummary
from connector.store import details
from connector.store import imports as store_imports
from connector.web import filepreview, importflow
from connector.web.csrf import checked_form
from connector.web.importing import import_upload
from connector.web.pages.common import console_of, int_param, not_found, reading
from connector.web.state import Console
from connector.web.templates import render
from connector.web.uploads import PendingUpload, UploadTooLargeError

FORMAT_NAMES = {
    ImportFormat.QUALYS_WAS_CSV: "Qualys WAS scan report (CSV)",
    ImportFormat.QUALYS_WAS_XML: "Qualys WAS scan report (XML)",
    ImportFormat.FLAT_CSV: "CSV file (one finding per row)",
}


# --- imported scans ------------------------------------------------------------------------------
def imports_page(request: Request) -> Response:
    console = console_of(request)
    with reading(request) as conn:
        scans = store_imports.list_imported_scans(conn, console.connector, limit=500)
    summaries = {s.id: ImportSummary.from_json(s.counts) for s in scans}
    return render(request, "imports.html", scans=scans, summaries=summaries)


def import_summary(request: Request) -> Response:
    console = console_of(request)
    scan_id = int_param(request.path_params["scan_id"], "this imported scan")
    with reading(request) as conn:
        scan = details.imported_scan(conn, console.connector, scan_id)
        run = details.run(conn, console.connector, scan["run_id"]) if scan else None
    if scan is None:
        raise not_found(f"imported scan {scan_id}")
    return render(
        request,
        "import_summary.html",
        scan=scan,
        summary=ImportSummary.from_json(scan["counts"]),
        run=run,
        just_imported=request.url.path.startswith("/imports/done/"),
    )


# --- step 1: upload ------------------------------------------------------------------------------
def upload_page(request: Request) -> Response:
    return _upload_form(request, error=None, status=200)


def _upload_form(request: Request, *, error: str | None, status: int) -> Response:
    console = console_of(request)
    return render(
        request,
        "import_upload.html",
        error=error,
        max_mb=console.config.web.upload_max_mb,
        status=status,
    )


async def upload(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _upload_form(request, error="choose a file to import", status=400)
    try:
        pending = await console.uploads.save(file, _sid(request))
    except UploadTooLargeError:
        limit = console.config.web.upload_max_mb
        return _upload_form(
            request,
            error=f"the file is larger than {limit} MB ([web] upload_max_mb): "
            "split it, or raise the limit",
            status=413,
        )
    finally:
        await form.close()
    try:
        await run_in_threadpool(filepreview.preview, pending.path)
    except ImportFileError as exc:
        console.uploads.discard(pending.token)
        return _upload_form(request, error=_plain(exc, pending), status=400)
    return RedirectResponse(f"/imports/new/{pending.token}", status_code=303)


# --- step 2: choose a mapping, or import -------------------------------------------------------
def _pending(request: Request) -> PendingUpload:
    pending = console_of(request).uploads.get(request.path_params["token"], _sid(request))
    if pending is None:
        raise HTTPException(
            404, "this upload is gone (imported, expired or logged out): upload the file again"
        )
    return pending


def _sid(request: Request) -> str:
    sid: str = request.scope["console.session"].sid
    return sid


def _plain(exc: ImportFileError, pending: PendingUpload) -> str:
    """The importer's message without the temporary directory's path."""
    return str(exc).replace(str(pending.path), pending.path.name)


async def choose_page(request: Request) -> Response:
    pending = _pending(request)
    return await _choose_form(request, pending, error=None, status=200)


async def _choose_form(
    request: Request, pending: PendingUpload, *, error: str | None, status: int
) -> Response:
    console = console_of(request)
    info = await run_in_threadpool(filepreview.preview, pending.path)

    def saved() -> list[Any]:
        with console.engine.connect() as conn:
            return [
                m
                for m in store_imports.list_mappings(conn, console.connector)
                if m.definition.get("format") == info.format.value
            ]

    mappings = await run_in_threadpool(saved)
    builtin = BUILTIN_FOR_FORMAT.get(info.format)
    return render(
        request,
        "import_choose.html",
        pending=pending,
        format_name=FORMAT_NAMES[info.format],
        columns=info.columns,
        builtin=builtin,
        mappings=mappings,
        error=error,
        status=status,
    )


async def run_import(request: Request) -> Response:
    form = await checked_form(request)
    pending = _pending(request)
    mapping = str(form.get("mapping") or "")
    if not mapping:
        return await _choose_form(request, pending, error="choose a mapping", status=400)
    return await _import(request, pending, mapping, form)


async def _import(
    request: Request, pending: PendingUpload, mapping: str, form: FormData
) -> Response:
    console = console_of(request)
    asset_name = str(form.get("asset_name") or "").strip() or None
    asset_url = str(form.get("asset_url") or "").strip() or None
    try:
        scan_id = await run_in_threadpool(
            lambda: import_upload(
                console,
                pending.path,
                mapping=mapping,
                close_absent=not form.get("no_close"),
                skip_bad_rows=bool(form.get("skip_bad_rows")),
                asset_name=asset_name,
                asset_url=asset_url,
            )
        )
    except ImportFileError as exc:
        message = f"nothing was imported: {_plain(exc, pending)}"
        return await _choose_form(request, pending, error=message, status=422)
    console.uploads.discard(pending.token)
    return RedirectResponse(f"/imports/done/{scan_id}", status_code=303)


# --- step 3: a new mapping's fields ------------------------------------------------------------
async def fields_page(request: Request) -> Response:
    pending = _pending(request)
    info = await run_in_threadpool(filepreview.preview, pending.path)
    draft = pending.draft
    chosen = draft.columns if draft is not None else importflow.suggest_columns(info.columns)
    name = draft.name if draft is not None else ""
    return _fields_form(request, pending, info, chosen, name, problems=[], status=200)


def _fields_form(
    request: Request,
    pending: PendingUpload,
    info: filepreview.FilePreview,
    chosen: dict[str, str],
    name: str,
    *,
    problems: list[str],
    status: int,
) -> Response:
    return render(
        request,
        "import_fields.html",
        pending=pending,
        format_name=FORMAT_NAMES[info.format],
        is_flat=info.format is ImportFormat.FLAT_CSV,
        columns=info.columns,
        chosen=chosen,
        name=name,
        main_fields=importflow.MAIN_FIELDS,
        more_fields=importflow.MORE_FIELDS,
        field_help=FIELDS,
        label=importflow.field_label,
        problems=problems,
        status=status,
    )


async def save_fields(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    pending = _pending(request)
    info = await run_in_threadpool(filepreview.preview, pending.path)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    draft, problems = importflow.read_field_form(values, info.format, info.columns)
    if not problems:
        problems = await run_in_threadpool(_name_problems, console, draft.name)
    if problems:
        return _fields_form(
            request, pending, info, draft.columns, draft.name, problems=problems, status=400
        )
    if "severity" in draft.columns:
        found = await run_in_threadpool(
            filepreview.severity_values, pending.path, info.format, draft.columns["severity"]
        )
        old = pending.draft.severity_values if pending.draft is not None else {}
        draft.severity_values = {v: old.get(v) or importflow.suggest_label(v) for v in found}
        for value, label in old.items():
            draft.severity_values.setdefault(value, label)
    pending.draft = draft
    return RedirectResponse(f"/imports/new/{pending.token}/severity", status_code=303)


def _name_problems(console: Console, name: str) -> list[str]:
    if name in BUILTIN_MAPPINGS:
        return [f"{name!r} is a built-in mapping: choose another name"]
    with console.engine.connect() as conn:
        if store_imports.load_mapping(conn, console.connector, name) is not None:
            return [f"a mapping named {name!r} exists: choose another name, or go back and use it"]
    return []


# --- step 4: severity values, then save the mapping and import --------------------------------
def _draft(pending: PendingUpload) -> importflow.MappingDraft:
    if not isinstance(pending.draft, importflow.MappingDraft):
        raise HTTPException(404, "map the file's fields first")
    return pending.draft


def severity_page(request: Request) -> Response:
    pending = _pending(request)
    return _severity_form(request, pending, _draft(pending), problems=[], status=200)


def _severity_form(
    request: Request,
    pending: PendingUpload,
    draft: importflow.MappingDraft,
    *,
    problems: list[str],
    status: int,
) -> Response:
    rows = list(draft.severity_values.items()) + [("", "")] * draft.extra_rows
    return render(
        request,
        "import_severity.html",
        pending=pending,
        draft=draft,
        rows=rows,
        labels=importflow.SEVERITY_LABELS,
        has_severity="severity" in draft.columns,
        problems=problems,
        status=status,
    )


async def save_severity(request: Request) -> Response:
    form = await checked_form(request)
    console = console_of(request)
    pending = _pending(request)
    draft = _draft(pending)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    table, problems = importflow.read_severity_form(values)
    draft.severity_values = table
    if form.get("action") == "add":
        draft.extra_rows += 1
        return _severity_form(request, pending, draft, problems=[], status=200)
    if "severity" in draft.columns and not any(table.values()):
        problems.append("map at least one severity value (the file's severity column is mapped)")
    if not problems:
        problems = await run_in_threadpool(_save_mapping, console, draft)
    if problems:
        return _severity_form(request, pending, draft, problems=problems, status=400)
    return await _import(request, pending, draft.name, form)


def _save_mapping(console: Console, draft: importflow.MappingDraft) -> list[str]:
    """Validate the draft as the CLI would and save it; returns the problems instead."""
    problems = _name_problems(console, draft.name)
    if problems:
        return problems
    try:
        mapping = build_mapping(
            draft.name,
            format_name=draft.format.value,
            columns=draft.columns,
            severity_values={v: label for v, label in draft.severity_values.items() if label},
        )
    except ImportFileError as exc:
        return [str(exc)]
    with console.engine.begin() as conn:
        store_imports.save_mapping(
            conn, console.connector, mapping.name, mapping.to_json(), now=console.clock()
        )
    return []


ROUTES = [
    Route("/imports", imports_page, methods=["GET"]),
    Route("/imports/new", upload_page, methods=["GET"]),
    Route("/imports/new", upload, methods=["POST"]),
    Route("/imports/new/{token}", choose_page, methods=["GET"]),
    Route("/imports/new/{token}", run_import, methods=["POST"]),
    Route("/imports/new/{token}/mapping", fields_page, methods=["GET"]),
    Route("/imports/new/{token}/mapping", save_fields, methods=["POST"]),
    Route("/imports/new/{token}/severity", severity_page, methods=["GET"]),
    Route("/imports/new/{token}/severity", save_severity, methods=["POST"]),
    Route("/imports/done/{scan_id}", import_summary, methods=["GET"]),
    Route("/imports/{scan_id}", import_summary, methods=["GET"]),
]
