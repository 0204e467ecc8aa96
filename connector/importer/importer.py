"""One import of one scan file: detect, validate, stream, map, upsert, close absent, record.

Everything is written in ONE transaction the importer owns (`engine.begin()`): a file that fails
half-way leaves the store as it was. WAS reports are read twice (pass 1: checksum, glossary, web
application, and a full parse so a broken file fails before anything is written; pass 2: the
results, streamed). Memory holds one batch of findings plus, per finding key of the file, its
ports (for consolidation) - bounded by the number of findings, never by the file size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connector.config import Config
from connector.errors import ImportFileError
from connector.importer import flatcsv, wasreport_csv, wasreport_xml
from connector.importer.csvrows import csv_records
from connector.importer.mapping import (
    BUILTIN_FOR_FORMAT,
    BUILTIN_MAPPINGS,
    FIELDS,
    ImportFormat,
    ImportMapping,
    missing_required,
    resolve_columns,
)
from connector.importer.records import (
    IMPORT_SOURCE,
    MappedRow,
    RowMapper,
    merge_ports,
    normalise_url,
    report_asset,
)
from connector.importer.report import ReportInfo, ReportRow
from connector.importer.textlines import DEFAULT_ENCODING, TextLines
from connector.models import SOURCE_API, Asset, Finding, Rejected, RunKind, RunOutcome
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store import imports as store_imports
from connector.store import runs as store_runs

BATCH_SIZE = 1000
SKIPPED_KEPT = 1000  # skipped rows listed in the report (all are counted)


@dataclass(frozen=True)
class ImportOptions:
    mapping_name: str | None = None
    asset_name: str | None = None
    asset_url: str | None = None
    close_absent: bool = True
    skip_bad_rows: bool = False
    encoding: str = DEFAULT_ENCODING
    batch_size: int = BATCH_SIZE


@dataclass
class ImportReport:
    """What one import did; `counts()` is what imported_scans and sync_runs record."""

    file_name: str
    format: ImportFormat
    mapping: str
    checksum: str = ""
    report_date: datetime | None = None
    asset_key: str | None = None
    asset_name: str | None = None
    asset_url: str | None = None
    run_id: int = 0
    rows: int = 0
    findings: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0
    skipped_count: int = 0
    skipped: list[Rejected] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)
    consolidated_rows: int = 0
    kept_from_api: int = 0  # findings the API sync already stores, left as the sync wrote them
    previous_import: store_imports.ImportedScan | None = None
    closing_note: str | None = None
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "findings": self.findings,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "fixed": self.closed,
            "skipped": self.skipped_count,
            "consolidated_rows": self.consolidated_rows,
            "kept_from_api": self.kept_from_api,
            "by_type": dict(self.by_type),
            "skipped_rows": [f"{r.ref}: {r.reason}" for r in self.skipped[:20]],
        }


# --- format and mapping --------------------------------------------------------------------------
def detect_format(path: Path, *, encoding: str = DEFAULT_ENCODING) -> ImportFormat:
    """WAS XML by its root element, WAS CSV by its `Scan Report` first row, else flat CSV."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not head.strip():
        raise ImportFileError(f"{path}: the file is empty: nothing to import")
    if wasreport_xml.looks_like_report(head):
        return ImportFormat.QUALYS_WAS_XML
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        raise ImportFileError(
            f"{path}: an XML file that is not a Qualys WAS scan report (no <WAS_SCAN_REPORT>): "
            "export the report as XML or CSV from Qualys WAS"
        )
    first = next(iter(csv_records(TextLines(path, encoding=encoding))), None)
    if first is not None and wasreport_csv.looks_like_report(first.cells):
        return ImportFormat.QUALYS_WAS_CSV
    return ImportFormat.FLAT_CSV


def resolve_mapping(
    conn: Connection,
    connector: str,
    name: str | None,
    detected: ImportFormat,
    path: Path,
    *,
    encoding: str,
) -> ImportMapping:
    """The mapping named (built-in or saved), else the built-in one for the detected format."""
    if name is None:
        builtin = BUILTIN_FOR_FORMAT.get(detected)
        if builtin is None:
            header = flatcsv.read_header(path, encoding=encoding)
            raise ImportFileError(
                f"{path}: not a Qualys WAS scan report (expected a CSV whose first row is "
                f"'Scan Report,<date>' or an XML <WAS_SCAN_REPORT>) and no --mapping given. "
                f"Its columns: {', '.join(header) or '(none)'}. Create a mapping for it: "
                "connector mappings create NAME --column title=COLUMN --column url=COLUMN "
                "(or host=COLUMN) [--column source_id=... --column port=... --column "
                "severity=... --severity VALUE=LABEL], then import with --mapping NAME"
            )
        return BUILTIN_MAPPINGS[builtin]
    mapping = BUILTIN_MAPPINGS.get(name)
    if mapping is None:
        stored = store_imports.load_mapping(conn, connector, name)
        if stored is None:
            known = sorted(
                [*BUILTIN_MAPPINGS, *(m.name for m in store_imports.list_mappings(conn, connector))]
            )
            raise ImportFileError(
                f"no import mapping named {name!r} (known: {', '.join(known)}): "
                "see `connector mappings list`"
            )
        mapping = ImportMapping.from_json(stored.name, stored.definition)
    if mapping.format is not detected:
        raise ImportFileError(
            f"{path}: mapping {mapping.name!r} is for {mapping.format.value} files but this "
            f"file is {detected.value}: pick a mapping of that format"
        )
    return mapping


# --- the import ----------------------------------------------------------------------------------
@dataclass
class _Plan:
    """What is known before writing: the format, the mapping, and pass 1's findings."""

    path: Path
    detected: ImportFormat
    mapping: ImportMapping
    info: ReportInfo | None
    flat: flatcsv.FlatCsv | None
    xml_encoding: str | None
    report: ImportReport


def import_file(
    engine: Engine,
    config: Config,
    path: Path,
    options: ImportOptions,
    *,
    now: datetime,
    host: str,
    pid: int,
) -> ImportReport:
    """Import one file in one transaction; raises ImportFileError (nothing written) on bad input."""
    plan = _plan(engine, config.connector_name, path, options)
    with engine.begin() as conn:
        run_id = store_runs.start_run(
            conn, config.connector_name, RunKind.IMPORT, now=now, host=host, pid=pid
        )
        _write(conn, config, plan, options, run_id=run_id, now=now)
    return plan.report


def _plan(engine: Engine, connector: str, path: Path, options: ImportOptions) -> _Plan:
    detected = detect_format(path, encoding=options.encoding)
    with engine.connect() as conn:
        mapping = resolve_mapping(
            conn, connector, options.mapping_name, detected, path, encoding=options.encoding
        )
    report = ImportReport(file_name=path.name, format=detected, mapping=mapping.name)
    xml_encoding = None if options.encoding == DEFAULT_ENCODING else options.encoding
    info: ReportInfo | None = None
    flat: flatcsv.FlatCsv | None = None
    if detected is ImportFormat.QUALYS_WAS_CSV:
        info = wasreport_csv.scan_report(path, encoding=options.encoding, mapping=mapping)
    elif detected is ImportFormat.QUALYS_WAS_XML:
        info = wasreport_xml.scan_report(path, encoding=xml_encoding, mapping=mapping)
    else:
        flat = flatcsv.FlatCsv(path, encoding=options.encoding)
        _check_flat_header(path, mapping, flat.header, report)
    if info is not None:
        _check_was_headers(path, mapping, info)
        report.checksum = info.checksum
        report.report_date = info.report_date
    return _Plan(path, detected, mapping, info, flat, xml_encoding, report)


def _write(
    conn: Connection,
    config: Config,
    plan: _Plan,
    options: ImportOptions,
    *,
    run_id: int,
    now: datetime,
) -> None:
    connector, path, report, info = config.connector_name, plan.path, plan.report, plan.info
    report.run_id = run_id
    api_assets = {
        normalise_url(url): key
        for url, key in store_imports.api_asset_urls(conn, connector).items()
    }
    fixed_asset, fixed_from_api = _report_asset(path, info, options, api_assets)
    writer = _Writer(conn, connector, run_id, now, f"import {path.name}", options.batch_size)
    if fixed_asset is not None:
        report.asset_key, report.asset_name = fixed_asset.key, fixed_asset.name
        report.asset_url = fixed_asset.url
        writer.asset(fixed_asset, from_api=fixed_from_api)
    mapper = RowMapper(
        plan.mapping,
        glossary=info.glossary if info is not None else None,
        report_asset=fixed_asset,
        report_asset_from_api=fixed_from_api,
        api_assets=api_assets,
        report_date=info.report_date if info is not None else None,
        evidence_max_bytes=config.import_.evidence_max_bytes,
        now=now,
    )

    def accept(item: ReportRow | Rejected) -> None:
        report.rows += 1
        mapped = mapper.map(item) if isinstance(item, ReportRow) else item
        if isinstance(mapped, MappedRow):
            writer.add(mapped, report)
            return
        if not options.skip_bad_rows:
            hint = (
                ""
                if "--skip-bad-rows" in mapped.reason
                else (" (or import the rest with --skip-bad-rows)")
            )
            raise ImportFileError(f"{path}: {mapped.ref}, {mapped.reason}{hint}")
        report.skipped_count += 1
        if len(report.skipped) < SKIPPED_KEPT:
            report.skipped.append(mapped)

    if plan.detected is ImportFormat.QUALYS_WAS_XML:
        wasreport_xml.result_rows(path, encoding=plan.xml_encoding, handle=accept)
    else:
        rows: Iterable[ReportRow | Rejected] = (
            plan.flat.rows()
            if plan.flat is not None
            else wasreport_csv.result_rows(path, encoding=options.encoding)
        )
        for item in rows:
            accept(item)
    writer.flush()
    if plan.flat is not None:
        report.checksum = plan.flat.checksum
        if len(writer.asset_keys) == 1:
            report.asset_key = next(iter(writer.asset_keys))
    report.kept_from_api = len(writer.kept_from_api)
    report.created = len(writer.created)
    report.updated = len(writer.updated - writer.created)
    report.findings = len(writer.seen)
    report.unchanged = report.findings - report.created - report.updated - report.kept_from_api
    report.previous_import = store_imports.find_imported_scan(conn, connector, report.checksum)
    if options.close_absent:
        _close_absent(conn, connector, report, writer, now)
    else:
        report.closing_note = "--no-close: findings absent from this report left as they are"
    store_imports.record_imported_scan(
        conn,
        connector,
        run_id=run_id,
        file_name=path.name,
        checksum=report.checksum,
        report_date=report.report_date,
        asset_key=report.asset_key,
        mapping=plan.mapping.name,
        counts=report.counts(),
        now=now,
    )
    store_runs.finish_run(
        conn,
        run_id,
        outcome=RunOutcome.SUCCEEDED,
        now=now,
        counts=report.counts(),
        api_calls=0,
        retries=0,
        error=None,
    )


def _report_asset(
    path: Path, info: ReportInfo | None, options: ImportOptions, api_assets: dict[str, str]
) -> tuple[Asset | None, bool]:
    """The one asset of a WAS report (flags win over the APPENDIX); flat CSV: only with flags."""
    name = options.asset_name or (info.webapp.name if info and info.webapp else None)
    url = options.asset_url or (info.webapp.url if info and info.webapp else None)
    if info is None and not options.asset_url:
        return None, False
    if not url:
        raise ImportFileError(
            f"{path}: the report names no web application (no 'Web Application Name, URL' "
            "table in its APPENDIX): give it with --asset-name NAME --asset-url URL"
        )
    return report_asset(
        name, url, api_assets=api_assets, report_date=info.report_date if info else None
    )


def _check_flat_header(
    path: Path, mapping: ImportMapping, header: tuple[str, ...], report: ImportReport
) -> None:
    problems = missing_required(mapping, header)
    if problems:
        raise ImportFileError(
            f"{path}: line 1: mapping {mapping.name!r} needs a column for "
            f"{'; '.join(problems)}, which the file lacks. The file's columns: "
            f"{', '.join(header)}: fix the mapping (connector mappings create ...) or the file"
        )
    present = resolve_columns(mapping, header)
    for field_name, column in mapping.columns.items():
        if field_name not in present:
            report.notes.append(
                f"column {column!r} (mapped to {field_name}) is not in the file: ignored"
            )


def _check_was_headers(path: Path, mapping: ImportMapping, info: ReportInfo) -> None:
    qid_column = mapping.columns.get("source_id")
    if qid_column is None:
        raise ImportFileError(
            f"mapping {mapping.name!r} maps no source_id (QID) column: a WAS report joins its "
            "results to the glossary by QID"
        )
    for table, header in info.tables.items():
        if not resolve_columns(
            dataclasses.replace(mapping, columns={"source_id": qid_column}), header
        ):
            raise ImportFileError(
                f"{path}: the {table} results have no {qid_column!r} column "
                f"(they have: {', '.join(h for h in header[1:])}): the file does not look "
                "like a WAS scan report export"
            )
    title = mapping.columns.get("title")
    if (
        info.glossary_header
        and title
        and not resolve_columns(
            dataclasses.replace(mapping, columns={"title": title}), info.glossary_header
        )
    ):
        raise ImportFileError(
            f"{path}: the GLOSSARY has no {title!r} column (it has: "
            f"{', '.join(info.glossary_header[1:])}): findings get their titles from it"
        )


def _close_absent(
    conn: Connection, connector: str, report: ImportReport, writer: _Writer, now: datetime
) -> None:
    asset_keys = sorted(writer.asset_keys | ({report.asset_key} if report.asset_key else set()))
    if not asset_keys:
        return
    if report.report_date is not None and report.asset_key is not None:
        newest = store_imports.latest_report_date(conn, connector, report.asset_key)
        if newest is not None and newest > report.report_date:
            report.closing_note = (
                f"an import of a newer report ({_date(newest)}) exists for this web application: "
                "findings absent from this older report were left as they are"
            )
            return
    reason = f"absent from scan report {report.file_name} ({_date(report.report_date)})"
    closed = store_findings.mark_absent_fixed(
        conn,
        connector,
        writer.seen.keys(),
        run_id=report.run_id,
        now=now,
        reason=reason,
        source=IMPORT_SOURCE,
        asset_keys=asset_keys,
    )
    report.closed = len(closed)


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "undated"


class _Writer:
    """Batches findings (consolidating ports per key) and upserts assets before their findings."""

    def __init__(
        self,
        conn: Connection,
        connector: str,
        run_id: int,
        now: datetime,
        reason: str,
        batch_size: int,
    ) -> None:
        self.conn, self.connector, self.run_id, self.now = conn, connector, run_id, now
        self.reason = reason
        self.batch_size = batch_size
        self.seen: dict[str, tuple[int, ...]] = {}  # finding key -> ports so far
        self.asset_keys: set[str] = set()
        self.created: set[str] = set()
        self.updated: set[str] = set()
        self.kept_from_api: set[str] = set()
        self._pending: dict[str, Finding] = {}

    def asset(self, asset: Asset, *, from_api: bool) -> None:
        if asset.key in self.asset_keys:
            return
        self.asset_keys.add(asset.key)
        if not from_api:
            store_assets.upsert_assets(self.conn, self.connector, [asset], now=self.now)

    def add(self, mapped: MappedRow, report: ImportReport) -> None:
        self.asset(mapped.asset, from_api=mapped.asset_from_api)
        finding = mapped.finding
        previous = self.seen.get(finding.key)
        if previous is None:
            report.by_type[finding.type or "finding"] = (
                report.by_type.get(finding.type or "finding", 0) + 1
            )
        else:
            report.consolidated_rows += 1
            finding = dataclasses.replace(finding, ports=merge_ports(previous, finding.ports))
        self.seen[finding.key] = finding.ports
        self._pending[finding.key] = finding
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        # The API sync owns the findings it stored (the same WAS finding id): a report, which may
        # be older, never overwrites them; the next sync keeps them current.
        synced = store_findings.keys_from_source(
            self.conn, self.connector, list(self._pending), source=SOURCE_API
        )
        for key in synced:
            del self._pending[key]
        self.kept_from_api.update(synced)
        if not self._pending:
            return
        result = store_findings.upsert_findings(
            self.conn,
            self.connector,
            list(self._pending.values()),
            run_id=self.run_id,
            now=self.now,
            reason=self.reason,
        )
        self.created.update(result.created)
        self.updated.update(result.updated)
        self._pending.clear()


def iter_field_help() -> Iterator[str]:
    """`field: what it feeds` lines, for the CLI's help."""
    for name, text in FIELDS.items():
        yield f"{name}: {text}"
