"""Pass 2 of an import: the report's rows read and mapped, in batches, here or in a worker process.

Reading and mapping is pure work (no store), so for a large file it runs in one worker process
while this process writes the previous batch: the two overlap on two CPUs. A row whose input
digest the store already holds (`known`) is not mapped at all: merging it again would change
nothing (see importer's input digests). The worker sends back compact frozen records; an
ImportFileError in it comes back with its message; the worker never outlives the import.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

from connector.errors import ImportFileError
from connector.importer import csvreport, flatcsv, xmlreport
from connector.importer.glossary import parse_qid
from connector.importer.mapping import ImportFormat, ImportMapping
from connector.importer.records import MappedRow, ReportAssets, RowMapper, RowRejected
from connector.importer.report import BadRow, ReportRow
from connector.importer.textlines import Progress
from connector.models import Finding, FindingStatus, Severity, SeveritySource, Weakness
from connector.store.findings import PreparedRow, prepare_row

log = logging.getLogger(__name__)

WORKER_MIN_BYTES = 16 * 1024 * 1024  # below this a worker costs more than it saves
MAPPING_VERSION = b"1"  # bump when mapping rows to findings changes: every row is mapped again


@dataclass(frozen=True, slots=True)
class Known:
    """A row the store already holds exactly as this file gives it."""

    digest: str
    table: str
    line_no: int


Item = MappedRow | RowRejected | BadRow | Known


@dataclass(frozen=True)
class ReadPlan:
    """Everything reading and mapping pass 2 needs (sent to the worker once)."""

    path: Path
    format: ImportFormat
    encoding: str
    xml_encoding: str | None
    mapping: ImportMapping
    weaknesses: tuple[Weakness, ...]
    is_report: bool  # a WAS report (else a flat CSV)
    kb_cvss: Mapping[int, float | None]
    report_assets: ReportAssets
    api_urls: Mapping[str, str]
    report_date: datetime | None
    evidence_max_bytes: int
    owasp_names: Mapping[str, str]
    wasc_names: Mapping[str, str]
    known: Collection[str]  # input digests the store holds for the report's web applications
    batch_size: int
    prepare_rows: bool = False  # also compute each finding's row and digest (in a worker)

    def mapper(self) -> RowMapper:
        return RowMapper(
            self.mapping,
            weaknesses={str(w.qid): w for w in self.weaknesses} if self.is_report else None,
            kb_cvss=self.kb_cvss,
            report_assets=self.report_assets,
            api_assets=self.api_urls,
            report_date=self.report_date,
            evidence_max_bytes=self.evidence_max_bytes,
            owasp_names=self.owasp_names,
            wasc_names=self.wasc_names,
        )


class InputDigests:
    """A row's input digest: its raw text plus everything its mapping reads besides (the
    mapping, the report's date and web applications, the glossary entry and KB score of its
    QID, the evidence limit). A row whose digest the store holds for its finding would change
    nothing: merging the same record twice is a no-op (store.merge). Flat CSVs have none: their
    findings are keyed by the asset their mapping finds."""

    def __init__(self, plan: ReadPlan, mapper: RowMapper) -> None:
        self.enabled = plan.is_report
        context = (
            MAPPING_VERSION,
            sorted(plan.mapping.to_json().items()),
            plan.report_date.isoformat() if plan.report_date else None,
            plan.evidence_max_bytes,
            sorted((str(k), a.key, api) for k, (a, api) in plan.report_assets.items()),
            sorted(plan.owasp_names.items()),
            sorted(plan.wasc_names.items()),
        )
        self.context = blake2b(repr(context).encode()).digest()
        self.weaknesses = {str(w.qid): w for w in plan.weaknesses}
        self.kb_cvss = plan.kb_cvss
        self.mapper = mapper
        self._qids: dict[str | None, bytes] = {}

    def of(self, row: ReportRow) -> str | None:
        if not self.enabled or not row.digest:
            return None
        return self.of_raw(self.mapper.qid_text(row), row.webapp, row.digest)

    def of_raw(self, qid: str | None, webapp: str | None, raw_digest: bytes) -> str:
        part = self._qids.get(qid)
        if part is None:
            number = parse_qid(qid or "")
            weakness = self.weaknesses.get(str(number)) if number is not None else None
            cvss = self.kb_cvss.get(number) if number is not None else None
            part = self._qids[qid] = blake2b(repr((qid, weakness, cvss)).encode()).digest()
        hasher = blake2b(self.context, digest_size=16)
        hasher.update(part)
        hasher.update(raw_digest)
        hasher.update((webapp or "").encode())
        return hasher.hexdigest()


class _Reader:
    def __init__(self, plan: ReadPlan, progress: Progress | None) -> None:
        self.plan, self.progress = plan, progress
        self.flat: flatcsv.FlatCsv | None = None

    def rows(self) -> Iterator[ReportRow | BadRow]:
        plan, progress = self.plan, self.progress
        if plan.format is ImportFormat.QUALYS_WAS_XML:
            return xmlreport.iter_rows(plan.path, encoding=plan.xml_encoding, progress=progress)
        if plan.format is ImportFormat.QUALYS_WAS_CSV:
            return csvreport.iter_rows(plan.path, encoding=plan.encoding, progress=progress)
        self.flat = flatcsv.FlatCsv(plan.path, encoding=plan.encoding, progress=progress)
        return self.flat.rows()


def read_batches(
    plan: ReadPlan, progress: Progress | None = None
) -> Iterator[tuple[list[Item], str]]:
    """(items, checksum so far) per batch of rows, in file order; the last checksum is the
    file's (for a flat CSV: the report's own is known from pass 1)."""
    mapper = plan.mapper()
    digests = InputDigests(plan, mapper)
    reader = _Reader(plan, progress)
    batch: list[Item] = []
    for row in reader.rows():
        if isinstance(row, BadRow):
            batch.append(row)
        else:
            digest = digests.of(row)
            if digest is not None and digest in plan.known:
                batch.append(Known(digest, row.table, row.line_no))
                continue
            mapped = mapper.map(row, digest)
            if isinstance(mapped, MappedRow) and plan.prepare_rows:
                # the row as the store would write it new: work a worker does in parallel
                mapped = replace(mapped, prepared=prepare_row(mapped.finding))
            batch.append(mapped)
        if len(batch) >= plan.batch_size:
            yield batch, ""
            batch = []
    yield batch, reader.flat.checksum if reader.flat is not None else ""


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_ENUMS = tuple(
    (_FINDING_FIELDS.index(name), enum._value2member_map_)
    for name, enum in (
        ("status", FindingStatus),
        ("severity", Severity),
        ("severity_source", SeveritySource),
    )
)


def _to_wire(item: Item) -> Any:
    """A mapped row as plain tuples (a frozen slots dataclass unpickles field by field, in
    Python: several times slower than rebuilding it from its row values)."""
    if isinstance(item, MappedRow) and item.prepared is not None:
        values = item.prepared.values
        return (item.asset, item.asset_from_api, tuple(values.values()), item.prepared.digest)
    return item


def _from_wire(item: Any) -> Item:
    if not isinstance(item, tuple):
        return item  # type: ignore[no-any-return]
    asset, from_api, row, digest = item
    model = list(row)
    for index, members in _ENUMS:
        model[index] = members[model[index]]
    values = dict(zip(_FINDING_FIELDS, row, strict=True))
    return MappedRow(asset, from_api, Finding(*model), PreparedRow(values, digest))


def _work(plan: ReadPlan, conn: Any) -> None:
    """The worker: stream batches (with the bytes read so far) to the importer, then 'done'."""
    read = [0]

    def progress(done: int) -> None:
        read[0] = done

    try:
        for batch, checksum in read_batches(plan, progress):
            conn.send(("batch", [_to_wire(item) for item in batch], read[0], checksum))
        conn.send(("done", None, read[0], None))
    except ImportFileError as exc:
        conn.send(("error", str(exc), read[0], None))
    finally:
        conn.close()


class Pass2:
    """Iterate pass 2's batches: from a worker process for a large file on two or more CPUs,
    else in this process. `checksum` is set once the last batch has been taken."""

    def __init__(self, plan: ReadPlan, progress: Progress | None, *, workers: bool) -> None:
        self.plan, self.progress = plan, progress
        self.checksum = ""
        self._process: Any = None
        self._conn: Any = None
        use = workers and (os.cpu_count() or 1) >= 2
        if use and plan.path.stat().st_size >= WORKER_MIN_BYTES:
            try:
                context = multiprocessing.get_context("spawn")
                ours, theirs = context.Pipe(duplex=False)
                work = replace(plan, prepare_rows=True, known=frozenset(plan.known))
                process = context.Process(target=_work, args=(work, theirs), daemon=True)
                process.start()
                theirs.close()
                self._process, self._conn = process, ours
            except (OSError, ImportError) as exc:
                log.warning("reading the report in this process: no worker process (%s)", exc)

    def __enter__(self) -> Pass2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join(timeout=10)
            self._conn.close()
            self._process = None

    def __iter__(self) -> Iterator[list[Item]]:
        if self._process is None:
            for batch, checksum in read_batches(self.plan, self.progress):
                self.checksum = checksum
                yield batch
            return
        while True:
            try:
                kind, payload, done, checksum = self._conn.recv()
            except EOFError:
                raise ImportFileError(
                    f"{self.plan.path}: the process reading the report stopped unexpectedly "
                    "(out of memory?): nothing was imported"
                ) from None
            if self.progress is not None and done:
                self.progress(done)
            if kind == "error":
                raise ImportFileError(payload)
            if kind == "done":
                return
            self.checksum = checksum
            yield [_from_wire(item) for item in payload]
