"""One import of one scan file: readers -> pure mapping -> plan -> one writer -> a frozen summary.

`import_file` is the one entry point (the CLI and the web console call it). The file is read
twice: pass 1 (`read_facts`) learns the report's glossary, web applications, dates and SUMMARY,
proves the whole file parses and refuses a report it would read emptier than it is; pass 2
streams the results, mapped row by row and written in batches. Everything is written in ONE
transaction (`engine.begin()`): a file that fails half-way leaves the store as it was. Memory
holds one batch of findings plus, per finding key of the file, its outcome, type, severity and
ports: bounded by the number of findings, never by the file size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from connector.config import Config
from connector.errors import ImportFileError
from connector.importer import completeness, csvreport, flatcsv, planner, xmlreport
from connector.importer.assets import resolve_assets
from connector.importer.dates import plausible
from connector.importer.detect import Detected, detect
from connector.importer.glossary import glossary_weakness
from connector.importer.mapping import (
    ImportFormat,
    ImportMapping,
)
from connector.importer.pipeline import InputDigests, Item, Known, Pass2, ReadPlan
from connector.importer.records import (
    REPORT_ID_PREFIX,
    MappedRow,
    ReportAssets,
    RowRejected,
    merge_ports,
)
from connector.importer.report import ReportFacts
from connector.importer.resolve import check_flat_header, check_was_headers, resolve_mapping
from connector.importer.summary import SKIPPED_KEPT, ImportSummary, WebAppSummary
from connector.importer.textlines import Progress
from connector.importer.writer import ImportWriter
from connector.models import SOURCE_IMPORT, Asset, Finding, Weakness
from connector.store import findings as store_findings
from connector.store import imports as store_imports
from connector.store import weaknesses as store_weaknesses
from connector.store.findings import PreparedRow

BATCH_SIZE = 1000


@dataclass(frozen=True)
class ImportOptions:
    mapping_name: str | None = None
    asset_name: str | None = None
    asset_url: str | None = None
    close_absent: bool = True
    skip_bad_rows: bool = False
    encoding: str | None = None  # None: from the byte-order mark, else UTF-8
    batch_size: int = BATCH_SIZE
    # called with (phase, bytes read so far): "checking" (pass 1), then "importing" (pass 2)
    progress: Callable[[str, int], None] | None = None
    workers: bool = True  # read a large file in a worker process while this one writes


def _phase(options: ImportOptions, phase: str) -> Progress | None:
    report = options.progress
    if report is None:
        return None
    return lambda done: report(phase, done)


# --- what is known before writing ----------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    detected: Detected
    mapping: ImportMapping
    facts: ReportFacts | None  # None: a flat CSV
    weaknesses: tuple[Weakness, ...]
    report_assets: ReportAssets
    api_urls: dict[str, str]
    kb_cvss: dict[int, float | None]
    complete: completeness.Completeness | None


def _prepare(engine: Engine, config: Config, path: Path, options: ImportOptions) -> _Prepared:
    detected = detect(path, encoding=options.encoding)
    connector = config.connector_name
    with engine.connect() as conn:
        mapping = resolve_mapping(conn, connector, options.mapping_name, detected, path)
        api_urls, api_keys = store_imports.api_asset_index(conn, connector)
        kb_cvss = store_weaknesses.load_weakness_cvss(conn, connector)
    if detected.format is ImportFormat.FLAT_CSV:
        flat = flatcsv.FlatCsv(path, encoding=detected.encoding)
        check_flat_header(path, mapping, flat.header)
        assets: ReportAssets = {}
        if options.asset_url:
            assets = resolve_assets(
                path, [], asset_name=options.asset_name, asset_url=options.asset_url,
                api_urls=api_urls, api_keys=api_keys, report_date=None,
            )  # fmt: skip
        return _Prepared(detected, mapping, None, (), assets, api_urls, kb_cvss, None)
    xml = detected.format is ImportFormat.QUALYS_WAS_XML
    if xml:
        # lxml reads the XML declaration and the BOM itself: only --encoding overrides them
        facts = xmlreport.read_facts(
            path,
            encoding=options.encoding,
            progress=_phase(options, "checking"),
            qid_element=mapping.columns.get("source_id", "QID"),
        )
    else:
        facts = csvreport.read_facts(
            path,
            encoding=detected.encoding,
            progress=_phase(options, "checking"),
            qid_column=mapping.columns.get("source_id", "QID"),
        )
    if facts.report_date is not None and not plausible(facts.report_date):
        raise ImportFileError(
            f"{path}: the report's date {facts.report_date:%Y-%m-%d} is not a scan date "
            "(expected 1990-2199): the file is damaged; export it again"
        )
    check_was_headers(path, mapping, facts)
    complete = completeness.check(facts, where=str(path), xml=xml)
    weaknesses = tuple(
        glossary_weakness(
            cells,
            mapping.format,
            owasp_names=facts.owasp_names,
            wasc_names=facts.wasc_names,
            report_date=facts.report_date,
            where=f"{path}: GLOSSARY entry {qid[:40]!r}",
        )
        for qid, cells in facts.glossary.items()
    )
    assets = resolve_assets(
        path,
        facts.webapps,
        asset_name=options.asset_name,
        asset_url=options.asset_url,
        api_urls=api_urls,
        api_keys=api_keys,
        report_date=facts.report_date,
    )
    return _Prepared(detected, mapping, facts, weaknesses, assets, api_urls, kb_cvss, complete)


def import_file(
    engine: Engine,
    config: Config,
    path: Path,
    options: ImportOptions,
    *,
    now: datetime,
    host: str,
    pid: int,
) -> ImportSummary:
    """Import one file in one transaction and return what it did.

    Raises ImportFileError (and nothing is written) on a file it refuses or a bad row (unless
    options.skip_bad_rows); StoreError when the database fails (the transaction rolls back)."""
    prepared = _prepare(engine, config, path, options)
    connector = config.connector_name
    facts = prepared.facts
    tally = planner.Tally()
    with engine.begin() as conn:
        writer = ImportWriter(
            conn, connector, now=now, host=host, pid=pid, reason=f"import {path.name}"
        )
        touched: dict[str, tuple[Asset, bool]] = {
            asset.key: (asset, api) for asset, api in prepared.report_assets.values()
        }
        writer.assets([asset for asset, api in touched.values() if not api])
        weaknesses_written = writer.glossary(prepared.weaknesses)
        known = store_imports.input_digests(conn, connector, touched) if facts else {}
        plan = ReadPlan(
            path=path,
            format=prepared.detected.format,
            encoding=prepared.detected.encoding,
            xml_encoding=options.encoding,
            mapping=prepared.mapping,
            weaknesses=prepared.weaknesses,
            is_report=facts is not None,
            kb_cvss=prepared.kb_cvss,
            report_assets=prepared.report_assets,
            api_urls=prepared.api_urls,
            report_date=facts.report_date if facts else None,
            evidence_max_bytes=config.import_.evidence_max_bytes,
            owasp_names=facts.owasp_names if facts else {},
            wasc_names=facts.wasc_names if facts else {},
            known=known.keys(),
            batch_size=options.batch_size,
        )
        # A worker pays off when rows must be mapped; a re-import of known rows only reads.
        known_share = len(known) / max(sum(facts.found.values()), 1) if facts else 0.0
        workers = options.workers and known_share < 0.5
        with Pass2(plan, _phase(options, "importing"), workers=workers) as batches:
            for batch in _all_known(plan, facts, known) or batches:
                mapped = _sort_batch(path, batch, known, plan.report_date, tally, options)
                for row in mapped:
                    touched.setdefault(row.asset.key, (row.asset, row.asset_from_api))
                writer.assets([row.asset for row in mapped if not row.asset_from_api])
                findings, ready = _consolidate(mapped, tally)
                for key, outcome in writer.findings(findings, ready).items():
                    tally.outcome(key, outcome)
        if options.progress is not None:
            options.progress("importing", path.stat().st_size)  # pass 2 stops at the glossary
        checksum = facts.checksum if facts else batches.checksum
        closed, closing = _close(conn, writer, connector, prepared, tally, touched, options, now)
        previous = store_imports.find_imported_scan(conn, connector, checksum)
        summary = _summary(
            path,
            prepared,
            tally,
            checksum=checksum,
            touched=touched,
            closed=closed,
            closing=closing,
            weaknesses_written=weaknesses_written,
            previous=previous,
            run_id=writer.run_id,
        )
        scan_id = writer.record(summary, sorted(touched))
    return dataclasses.replace(summary, scan_id=scan_id)


def _all_known(
    plan: ReadPlan, facts: ReportFacts | None, known: dict[str, store_imports.StoredDigest]
) -> Iterator[list[Item]] | None:
    """When pass 1 already shows that the store holds every row as it is (a re-import), the
    rows as batches of Known items, and pass 2 need not read the file again; else None."""
    if facts is None or not known or not len(facts.raw_rows):
        return None
    digests = InputDigests(plan, plan.mapper())
    if any(digests.of_raw(r.qid, r.webapp, r.digest) not in known for r in facts.raw_rows):
        return None

    def batches() -> Iterator[list[Item]]:
        batch: list[Item] = []
        for raw in facts.raw_rows:
            batch.append(
                Known(digests.of_raw(raw.qid, raw.webapp, raw.digest), raw.table, raw.line_no)
            )
            if len(batch) >= plan.batch_size:
                yield batch
                batch = []
        yield batch

    return batches()


def _sort_batch(
    path: Path,
    batch: list[Item],
    known: dict[str, store_imports.StoredDigest],
    report_date: datetime | None,
    tally: planner.Tally,
    options: ImportOptions,
) -> list[MappedRow]:
    """The batch's mapped rows; rows the store holds as they are tallied, bad ones handled: a
    bad row stops the import (naming its line) or, with --skip-bad-rows, is counted and listed,
    and its finding (when its key can be read) is never closed as absent."""
    out: list[MappedRow] = []
    for item in batch:
        tally.rows += 1
        if isinstance(item, MappedRow):
            out.append(item)
            continue
        if isinstance(item, Known):
            held = known[item.digest]
            older = report_date is not None and held.as_of is not None and held.as_of > report_date
            tally.seen_row(held.key, item.table or "finding", held.severity)
            tally.outcome(held.key, store_findings.KEPT if older else store_findings.UNCHANGED)
            continue
        if not options.skip_bad_rows:
            raise ImportFileError(
                f"{path}: line {item.line_no}, {item.reason} (or import the rest with "
                "--skip-bad-rows)"
            )
        tally.skipped_count += 1
        if len(tally.skipped) < SKIPPED_KEPT:
            tally.skipped.append(f"line {item.line_no}: {item.reason}")
        hint = item.key if isinstance(item, RowRejected) else None
        if hint is not None:
            tally.seen_skipped.add(hint)
        else:
            tally.unclosable_types.add(item.table or "*")
    return out


def _consolidate(
    batch: list[MappedRow], tally: planner.Tally
) -> tuple[list[Finding], dict[str, PreparedRow]]:
    """One record per key: rows of one finding in a batch (several ports) merged; across
    batches the store adds up the ports of records of one date. With the rows (and digests)
    computed ahead where a merge did not change the record."""
    out: dict[str, Finding] = {}
    prepared: dict[str, PreparedRow] = {}
    for row in batch:
        finding = row.finding
        tally.seen_row(finding.key, finding.type or "finding", finding.severity.value)
        previous = out.get(finding.key)
        if previous is not None:
            finding = dataclasses.replace(finding, ports=merge_ports(previous.ports, finding.ports))
            prepared.pop(finding.key, None)
        elif row.prepared is not None:
            prepared[finding.key] = row.prepared
        out[finding.key] = finding
    return list(out.values()), prepared


def _close(
    conn: Connection,
    writer: ImportWriter,
    connector: str,
    prepared: _Prepared,
    tally: planner.Tally,
    touched: dict[str, tuple[Asset, bool]],
    options: ImportOptions,
    now: datetime,
) -> tuple[int, str]:
    facts = prepared.facts
    own_assets = [key for key, (_asset, api) in touched.items()]
    if "*" in tally.unclosable_types:
        return 0, "rows were skipped whose finding could not be read: nothing was closed"
    types = None
    if facts is not None and prepared.complete is not None:
        types = frozenset(prepared.complete.complete_types - tally.unclosable_types)
    latest = store_imports.latest_report_dates(conn, connector, own_assets)
    policy, note = planner.close_policy(
        file_name=writer.reason.removeprefix("import "),
        report_date=facts.report_date if facts else None,
        now=now,
        asset_keys=own_assets,
        latest=latest,
        types=types,
        filters=facts.filters if facts else (),
        enabled=options.close_absent,
    )
    if policy is None:
        return 0, note
    seen = tally.seen | tally.seen_skipped
    active = store_imports.iter_active(
        conn, connector, sources=[SOURCE_IMPORT], asset_keys=policy.asset_keys, types=policy.types
    )
    keys = planner.to_close(active, seen, policy)
    writer.close(keys, fixed_at=policy.fixed_at, reason=policy.reason)
    kinds = "every finding type" if policy.types is None else ", ".join(sorted(policy.types))
    said = f"closed {len(keys)} absent finding(s) of {kinds} as of {_date(policy.fixed_at)}"
    return len(keys), f"{said}; {note}" if note else said


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "undated"


def _summary(
    path: Path,
    prepared: _Prepared,
    tally: planner.Tally,
    *,
    checksum: str,
    touched: dict[str, tuple[Asset, bool]],
    closed: int,
    closing: str,
    weaknesses_written: int,
    previous: store_imports.ImportedScan | None,
    run_id: int,
) -> ImportSummary:
    facts = prepared.facts
    counts = tally.counts()
    warnings = list(prepared.complete.warnings) if prepared.complete else []
    identity = facts.identity if facts else "mapping"
    if facts is not None and identity == "ID":
        warnings.append(
            "the report has no Detection ID column: findings are keyed on its per-scan ID "
            f"({REPORT_ID_PREFIX}...), so a later report of the same web application will not "
            "meet them; export reports with Detection IDs"
        )
    return ImportSummary(
        file_name=path.name,
        format=prepared.detected.format.value,
        kind=facts.kind if facts else "flat CSV",
        mapping=prepared.mapping.name,
        checksum=checksum,
        report_date=facts.report_date if facts else None,
        identity=identity,
        layouts=facts.layouts if facts else (),
        webapps=tuple(
            WebAppSummary(asset.key, asset.name, asset.url, api) for asset, api in touched.values()
        ),
        rows=tally.rows,
        findings=len(tally.seen),
        created=counts[store_findings.CREATED],
        updated=counts[store_findings.UPDATED],
        unchanged=counts[store_findings.UNCHANGED],
        kept=counts[store_findings.KEPT],
        closed=closed,
        consolidated_rows=tally.consolidated_rows,
        by_type=dict(tally.by_type),
        by_severity=dict(tally.by_severity),
        skipped=tally.skipped_count,
        skipped_rows=tuple(tally.skipped),
        glossary_entries=len(prepared.weaknesses),
        weaknesses_written=weaknesses_written,
        closing=closing,
        warnings=tuple(warnings),
        run_id=run_id,
        previous_import_id=previous.id if previous else None,
        previous_imported_at=previous.imported_at if previous else None,
    )
