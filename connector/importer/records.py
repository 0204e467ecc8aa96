"""Pure mapping of parsed report rows to models: row + mapping (+ glossary) -> Asset, Finding.

A row that cannot be mapped comes back as a `RowRejected` whose reason reads
"column 'X': <problem>: <what to do>"; the importer either stops on it or skips it.

Identity (documented in the README):
- asset: resolved by the importer for the whole report (see `assets.py`); for a flat CSV, an API
  web app of this connector with the same URL origin, else "url:" + the normalised origin, or
  "host:" + host when the file has no URL;
- finding: the report's Detection ID (the API's finding id, so a report finding and the API's
  record of it are one row); a report without one: "report-id:" + its per-scan ID (said in the
  summary); a flat CSV: its finding id column, else "<asset key>|qid:<QID>", else
  "<asset key>|title:<title>".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from connector.importer.dates import EARLIEST, LATEST, parse_report_date, plausible
from connector.importer.evidence import cap_evidence, evidence_text
from connector.importer.glossary import QID_MAX, cwe_ids, named, parse_qid
from connector.importer.mapping import ImportFormat, ImportMapping
from connector.importer.report import INFORMATION_GATHERED, ReportRow
from connector.importer.urls import BadUrlError, bounded_key, url_origin
from connector.mapping import STATUS_MAP, derive_severity, severity_from_cvss
from connector.models import (
    SOURCE_IMPORT,
    Asset,
    Finding,
    FindingStatus,
    Severity,
    SeveritySource,
    Weakness,
)
from connector.store.findings import PreparedRow

IMPORT_SOURCE = SOURCE_IMPORT
REPORT_ID_PREFIX = "report-id:"
_TRUE = frozenset({"yes", "true", "1", "y"})
_PORT_SPLIT = re.compile(r"[,;\s]+")

_ValueFn = Callable[[str], str | None]


class RowError(Exception):
    """A row that cannot be mapped; carries the column and the reason (internal to this module)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"column {column!r}: {reason}")


@dataclass(frozen=True, slots=True)
class MappedRow:
    asset: Asset
    asset_from_api: bool  # the asset is an API web app: attach to it, never rewrite it
    finding: Finding
    prepared: PreparedRow | None = None  # its row values and digest, when computed ahead


@dataclass(frozen=True, slots=True)
class RowRejected:
    """A row that was not mapped: where, why, and the finding key when it could be read (so the
    finding it names is never closed as absent)."""

    line_no: int
    table: str
    reason: str
    key: str | None = None


ReportAssets = Mapping[str | None, tuple[Asset, bool]]  # row.webapp -> (asset, from the API)


class RowMapper:
    """Maps rows of one file. WAS reports: `weaknesses` are the glossary's (QID text ->
    Weakness), `report_assets` the report's web applications; flat CSV: assets per row."""

    def __init__(
        self,
        mapping: ImportMapping,
        *,
        weaknesses: Mapping[str, Weakness] | None,
        kb_cvss: Mapping[int, float | None],
        report_assets: ReportAssets,
        api_assets: Mapping[str, str],
        report_date: datetime | None,
        evidence_max_bytes: int,
        owasp_names: Mapping[str, str] | None = None,
        wasc_names: Mapping[str, str] | None = None,
    ) -> None:
        self.mapping = mapping
        self.weaknesses = weaknesses
        self.kb_cvss = kb_cvss
        self.report_assets = report_assets
        self.api_assets = api_assets
        self.report_date = report_date
        self.evidence_max_bytes = evidence_max_bytes
        self.owasp_names = owasp_names or {}
        self.wasc_names = wasc_names or {}
        self.is_was = mapping.format is not ImportFormat.FLAT_CSV
        self.fallback = {
            int(k): v for k, v in mapping.severity_values.items() if k.strip().isdigit()
        }
        self._wanted = {f: c.casefold() for f, c in mapping.columns.items()}
        self._resolved: dict[tuple[str, ...], dict[str, str]] = {}

    def map(self, row: ReportRow, input_digest: str | None = None) -> MappedRow | RowRejected:
        """The row's asset and finding (carrying `input_digest`), or why it cannot be mapped."""
        try:
            return self._map(row, input_digest)
        except RowError as exc:
            return RowRejected(row.line_no, row.table, str(exc), self.key_hint(row))

    def qid_text(self, row: ReportRow) -> str | None:
        return self._cell("source_id", row)

    def key_hint(self, row: ReportRow) -> str | None:
        """The finding key a row names, read leniently (for rows that fail to map)."""
        try:
            return self._key(row, None, None, None)
        except (RowError, BadUrlError):
            return None

    # --- cells ---------------------------------------------------------------------------------
    def _columns(self, cells: Mapping[str, str]) -> dict[str, str]:
        names = tuple(cells)
        resolved = self._resolved.get(names)
        if resolved is None:
            by_norm = {n.casefold(): n for n in names}
            resolved = {f: by_norm[c] for f, c in self._wanted.items() if c in by_norm}
            if len(self._resolved) < 256:
                self._resolved[names] = resolved
        return resolved

    def _cell(self, field: str, row: ReportRow) -> str | None:
        column = self._columns(row.cells).get(field)
        if column is None:
            return None
        return row.cells.get(column, "").strip() or None

    def _column_name(self, field: str) -> str:
        return self.mapping.columns.get(field, field)

    # --- the row -------------------------------------------------------------------------------
    def _map(self, row: ReportRow, input_digest: str | None) -> MappedRow:
        columns = self._columns(row.cells)
        cells = row.cells

        def value(field: str) -> str | None:
            column = columns.get(field)
            return (cells.get(column) or "").strip() or None if column is not None else None

        qid_text = value("source_id")
        qid = self._qid(qid_text) if qid_text else None
        weakness = None
        if self.weaknesses is not None:
            if qid_text is None:
                raise RowError(self._column_name("source_id"), "empty QID: every result has one")
            weakness = self.weaknesses.get(str(qid))
            if weakness is None:
                raise RowError(
                    self._column_name("source_id"),
                    f"QID {qid_text} is not in the report's GLOSSARY: the file is incomplete; "
                    "export the report again (or import the rest with --skip-bad-rows)",
                )
        title = value("title") or (weakness.title if weakness else None)
        if not title:
            raise RowError(self._column_name("title"), "no title: every finding needs one")
        asset, from_api = self._asset(row, value)
        finding_type = row.table if self.is_was else (value("type") or None)
        level_text = value("severity")
        level = self._level(level_text, weakness)
        cvss_base = self._score(value("cvss_v3_base"), "cvss_v3_base")
        severity, source = self._severity(level_text, level, cvss_base, finding_type, weakness, qid)
        qualys_status = (value("status") or "").upper() or None
        status = STATUS_MAP.get(qualys_status or "", FindingStatus.ACTIVE)
        ignored_reason = None
        if (value("ignored") or "").casefold() in _TRUE:
            ignored_reason = (value("ignore_reason") or "IGNORED").upper().replace(" ", "_")
        detected = self._date(value("detection_date"), "detection_date")
        first_seen = self._date(value("first_seen"), "first_seen")
        last_seen = self._date(value("last_seen"), "last_seen")
        first_seen = first_seen or detected or last_seen
        last_seen = last_seen or detected or self.report_date or first_seen
        if first_seen and last_seen and last_seen < first_seen:
            raise RowError(
                self._column_name("last_seen" if value("last_seen") else "first_seen"),
                f"last detected ({last_seen:%Y-%m-%d %H:%M}) before first detected "
                f"({first_seen:%Y-%m-%d %H:%M}): the row is inconsistent; fix the file",
            )
        report_id = value("report_id")
        key = self._key(row, asset, qid, title)
        if key is None:  # pragma: no cover - with an asset every branch names a key
            raise RowError(self._column_name("finding_id"), "the row names no finding")
        finding = Finding(
            key=key,
            asset_key=asset.key,
            name=title,
            status=status,
            severity=severity,
            severity_source=source,
            unique_id=_clip(value("unique_id"), 64),
            qid=qid,
            type=_clip(finding_type, 32),
            url=value("url"),
            param=value("param"),
            qualys_severity=level,
            cvss_v3_base=cvss_base,
            cvss_v3_temporal=self._score(value("cvss_v3_temporal"), "cvss_v3_temporal"),
            attack_vector=weakness.cvss_v3_attack_vector if weakness else None,
            cwes=cwe_ids(value("cwe")) or (weakness.cwes if weakness else ()),
            owasp=named(value("owasp"), self.owasp_names) or (weakness.owasp if weakness else ()),
            wasc=named(value("wasc"), self.wasc_names) or (weakness.wasc if weakness else ()),
            qualys_status=_clip(qualys_status, 16),
            ignored_reason=_clip(ignored_reason, 32),
            first_seen=first_seen,
            last_seen=last_seen,
            fixed_at=(last_seen or self.report_date) if status is FindingStatus.FIXED else None,
            ports=self._ports(value("port")),
            evidence=cap_evidence(
                evidence_text(row.payloads, row.results, report_id if self.is_was else None),
                self.evidence_max_bytes,
            ),
            source=IMPORT_SOURCE,
            as_of=self.report_date,
            input_digest=input_digest,
        )
        return MappedRow(asset, from_api, finding)

    def _key(
        self, row: ReportRow, asset: Asset | None, qid: int | None, title: str | None
    ) -> str | None:
        finding_id = self._cell("finding_id", row)
        if finding_id:
            digits = finding_id.strip()
            return (
                str(int(digits))
                if digits.isdigit() and len(digits) < 19
                else (bounded_key("", digits))
            )
        if self.is_was:
            report_id = self._cell("report_id", row)
            if report_id:
                return bounded_key(REPORT_ID_PREFIX, report_id)
            raise RowError(
                self._column_name("finding_id"),
                f"no {self._column_name('finding_id')} and no {self._column_name('report_id')}: "
                "the row names no finding; fix or re-export the report",
            )
        if asset is None:
            return None
        if qid is not None:
            return f"{asset.key}|qid:{qid}"
        return bounded_key(f"{asset.key}|title:", title or "")

    def _asset(self, row: ReportRow, value: _ValueFn) -> tuple[Asset, bool]:
        if self.report_assets:
            found = self.report_assets.get(row.webapp) or self.report_assets.get(None)
            if found is None:
                raise RowError(
                    "WEB_APPLICATION",
                    f"the results name web application {row.webapp!r}, which the report's "
                    "APPENDIX does not list: the file is inconsistent; export it again",
                )
            return found
        url, host = value("url"), value("host")
        column = self._column_name("url") if "url" in self.mapping.columns else "host"
        if url:
            try:
                origin = url_origin(url)
            except BadUrlError as exc:
                raise RowError(column, f"{exc}: fix the URL") from None
            if urlsplit(origin).hostname:
                api_key = self.api_assets.get(origin)
                if api_key is not None:
                    return _asset(api_key, None, origin, self.report_date, source="api"), True
                name = value("asset_name") or urlsplit(origin).hostname
                return _asset(bounded_key("url:", origin), name, origin, self.report_date), False
        if host:
            name = value("asset_name") or host
            return _asset(bounded_key("host:", host.lower()), name, None, self.report_date), False
        raise RowError(
            column,
            "no URL or host: every row needs one (or give --asset-name and --asset-url)",
        )

    def _level(self, text: str | None, weakness: Weakness | None) -> int | None:
        if self.is_was and text and text.isdigit() and len(text) == 1:
            return int(text)
        return weakness.severity_level if weakness else None

    def _severity(
        self,
        raw: str | None,
        level: int | None,
        cvss: float | None,
        finding_type: str | None,
        weakness: Weakness | None,
        qid: int | None,
    ) -> tuple[Severity, SeveritySource]:
        if self.is_was:  # the seed's order: finding CVSS v3, glossary/KB CVSS v3, the level
            kb = weakness.cvss_v3_base if weakness else None
            if kb is None and qid is not None:
                kb = self.kb_cvss.get(qid)
            return derive_severity(
                cvss_v3_base=cvss,
                kb_cvss_v3_base=kb,
                qualys_severity=level,
                finding_type=finding_type,
                fallback=self.fallback,
            )
        if finding_type == INFORMATION_GATHERED:
            return Severity.NONE, SeveritySource.FILE
        if cvss is not None:
            return severity_from_cvss(cvss), SeveritySource.CVSS_V3
        if raw is None:
            return Severity.NONE, SeveritySource.FILE
        label = self.mapping.severity_for(raw)
        if label is None:
            known = ", ".join(self.mapping.severity_values) or "none"
            raise RowError(
                self._column_name("severity"),
                f"severity value {raw!r} is not in mapping {self.mapping.name!r} "
                f"(known: {known}): add it to a mapping "
                f"(connector mappings create NAME --severity {raw}=LABEL ...) and import "
                "with --mapping NAME, or skip such rows with --skip-bad-rows",
            )
        return label, SeveritySource.FILE

    def _qid(self, text: str) -> int:
        qid = parse_qid(text)
        if qid is None:
            raise RowError(
                self._column_name("source_id"),
                f"{text[:40]!r} is not a QID (a number from 1 to {QID_MAX}): fix the file",
            )
        return qid

    def _date(self, text: str | None, field: str) -> datetime | None:
        if not text:
            return None
        value = parse_report_date(text)
        if value is None:
            raise RowError(
                self._column_name(field),
                f"{text[:60]!r} is not a date (expected e.g. '24 Apr 2019 01:41AM GMT' or ISO "
                "8601): fix the file",
            )
        if not plausible(value):
            raise RowError(
                self._column_name(field),
                f"date {text[:60]!r} is outside {EARLIEST}-{LATEST}: not a scan date; fix the file",
            )
        return value

    def _score(self, text: str | None, field: str) -> float | None:
        if not text:
            return None
        try:
            score = float(text)
        except ValueError:
            raise RowError(self._column_name(field), f"{text[:40]!r} is not a number") from None
        if not 0.0 <= score <= 10.0:
            raise RowError(self._column_name(field), f"score {text} is outside 0.0-10.0")
        return score

    def _ports(self, text: str | None) -> tuple[int, ...]:
        if not text:
            return ()
        ports = set()
        for part in _PORT_SPLIT.split(text.strip()):
            if not part:
                continue
            if not part.isdigit() or len(part) > 5 or not 0 < int(part) < 65536:
                raise RowError(self._column_name("port"), f"{part[:20]!r} is not a port number")
            ports.add(int(part))
        return tuple(sorted(ports))


def merge_ports(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(a) | set(b)))


def _asset(
    key: str,
    name: str | None,
    url: str | None,
    report_date: datetime | None,
    *,
    source: str = IMPORT_SOURCE,
) -> Asset:
    return Asset(
        key=key,
        name=name,
        url=url,
        first_observed=None,
        last_observed=report_date,
        source=source,
    )


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None
