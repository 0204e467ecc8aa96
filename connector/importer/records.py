"""Pure mapping of parsed report rows to models: row + mapping (+ glossary) -> Asset, Finding.

A row that cannot be mapped comes back as a `Rejected` whose reason reads
"column 'X': <problem>: <what to do>"; the importer either stops on it or skips it.

Identity (documented in the README):
- asset: an API web app of this connector with the same URL (normalised) when there is one;
  otherwise "url:" + the normalised URL, or "host:" + host for a flat CSV mapped by Host;
- finding: the report's finding id (WAS `ID`, the id the API uses) when mapped and present,
  else "<asset key>|qid:<QID>" when Source ID is mapped, else "<asset key>|title:<title>".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from connector.importer.dates import parse_report_date
from connector.importer.mapping import ImportFormat, ImportMapping
from connector.importer.report import Payload, ReportRow
from connector.mapping import INFORMATION_GATHERED, STATUS_MAP, severity_from_cvss
from connector.models import (
    Asset,
    Finding,
    FindingStatus,
    Rejected,
    Severity,
    SeveritySource,
)

IMPORT_SOURCE = "import"
KEY_MAX = 200  # schema.KEY
TRUNCATED_MARKER = "\n[... evidence truncated: {kept} of {total} bytes kept]"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRUE = frozenset({"yes", "true", "1", "y"})
_CWE = re.compile(r"\d+")

_ValueFn = Callable[[str], str | None]


class RowError(Exception):
    """A row that cannot be mapped; carries the column and the reason (internal to this module)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"column {column!r}: {reason}")


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no query or fragment, no trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else None
    netloc = f"{host}:{port}" if port else host
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL (a flat CSV row's URL names a page; its origin the asset)."""
    parts = urlsplit(url.strip())
    return normalise_url(f"{parts.scheme}://{parts.netloc}")


def bounded_key(prefix: str, value: str) -> str:
    """prefix + value, or prefix + a sha256 of value when that would not fit the key column."""
    key = prefix + value
    if len(key) <= KEY_MAX:
        return key
    return prefix + "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def cap_evidence(text: str | None, max_bytes: int) -> str | None:
    """At most `max_bytes` UTF-8 bytes of text, with a marker saying how much was cut."""
    if not text or max_bytes <= 0:
        return None
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    marker = TRUNCATED_MARKER.format(kept=max_bytes, total=len(data))
    keep = max(max_bytes - len(marker.encode()), 0)
    return data[:keep].decode("utf-8", "ignore") + marker


def evidence_text(payloads: tuple[Payload, ...], results: str | None) -> str | None:
    """Readable evidence: each payload with its request and response, or the gathered results."""
    parts: list[str] = []
    if results:
        parts.append(results)
    for p in payloads:
        lines = [f"Payload #{p.num}: {p.payload or ''}".rstrip()]
        if p.method or p.url:
            lines.append(f"Request: {p.method or ''} {p.url or ''}".rstrip())
        if p.headers:
            lines.append(p.headers.rstrip())
        if p.response:
            lines.append("Response:\n" + p.response)
        if p.evidence:
            lines.append("Evidence: " + p.evidence)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) or None


@dataclass(frozen=True, slots=True)
class MappedRow:
    asset: Asset
    asset_from_api: bool  # the asset is an API web app: attach to it, never rewrite it
    finding: Finding


class RowMapper:
    """Maps rows of one file. `glossary` is given for WAS reports (QID -> glossary cells)."""

    def __init__(
        self,
        mapping: ImportMapping,
        *,
        glossary: Mapping[str, Mapping[str, str]] | None,
        report_asset: Asset | None,
        report_asset_from_api: bool,
        api_assets: Mapping[str, str],
        report_date: datetime | None,
        evidence_max_bytes: int,
        now: datetime,
    ) -> None:
        self.mapping = mapping
        self.glossary = glossary
        self.report_asset = report_asset
        self.report_asset_from_api = report_asset_from_api
        self.api_assets = api_assets
        self.report_date = report_date
        self.evidence_max_bytes = evidence_max_bytes
        self.now = now
        self.is_was = mapping.format is not ImportFormat.FLAT_CSV
        self._wanted = {f: c.casefold() for f, c in mapping.columns.items()}
        self._resolved: dict[tuple[str, ...], dict[str, str]] = {}

    def map(self, row: ReportRow) -> MappedRow | Rejected:
        try:
            return self._map(row)
        except RowError as exc:
            return Rejected("row", f"line {row.line_no}", str(exc))

    # --- cells ---------------------------------------------------------------------------------
    def _columns(self, cells: Mapping[str, str]) -> dict[str, str]:
        names = tuple(cells)
        resolved = self._resolved.get(names)
        if resolved is None:
            by_norm = {n.casefold(): n for n in names}
            resolved = {f: by_norm[c] for f, c in self._wanted.items() if c in by_norm}
            if len(self._resolved) < 64:
                self._resolved[names] = resolved
        return resolved

    def _value(self, field: str, row: ReportRow, gloss: Mapping[str, str] | None) -> str | None:
        column = self._columns(row.cells).get(field)
        if column is not None:
            text = row.cells.get(column, "").strip()
            if text:
                return text
        if gloss is not None:
            column = self._columns(gloss).get(field)
            if column is not None:
                text = gloss.get(column, "").strip()
                if text:
                    return text
        return None

    def _column_name(self, field: str) -> str:
        return self.mapping.columns.get(field, field)

    # --- the row -------------------------------------------------------------------------------
    def _map(self, row: ReportRow) -> MappedRow:
        qid_text = self._value("source_id", row, None)
        qid = self._int(qid_text, "source_id") if qid_text else None
        gloss = None
        if self.glossary is not None:
            if qid_text is None:
                raise RowError(self._column_name("source_id"), "empty QID: every result has one")
            gloss = self.glossary.get(qid_text)
            if gloss is None:
                raise RowError(
                    self._column_name("source_id"),
                    f"QID {qid_text} is not in the report's GLOSSARY: the file is incomplete; "
                    "export the report again (or import the rest with --skip-bad-rows)",
                )

        def value(field: str) -> str | None:
            return self._value(field, row, gloss)

        title = value("title")
        if not title:
            raise RowError(self._column_name("title"), "no title: every finding needs one")
        asset, from_api = self._asset(value)
        finding_type = (value("type") or row.table or None) if not self.is_was else row.table
        severity, source, level = self._severity(value, finding_type)
        qualys_status = (value("status") or "").upper() or None
        status = STATUS_MAP.get(qualys_status or "", FindingStatus.ACTIVE)
        ignored_reason = None
        if (value("ignored") or "").casefold() in _TRUE:
            ignored_reason = (value("ignore_reason") or "IGNORED").upper().replace(" ", "_")
        first_seen = parse_report_date(value("first_seen"))
        last_seen = parse_report_date(value("last_seen")) or self.report_date or first_seen
        cvss_temporal = self._float(value("cvss_v3_temporal"), "cvss_v3_temporal")
        cvss_base = self._float(value("cvss_v3_base"), "cvss_v3_base")
        finding_id = value("finding_id")
        if finding_id:
            key = bounded_key("", finding_id)
        elif qid is not None:
            key = f"{asset.key}|qid:{qid}"
        else:
            key = bounded_key(f"{asset.key}|title:", title)
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
            cvss_v3_temporal=cvss_temporal,
            cwes=tuple(int(n) for n in _CWE.findall(value("cwe") or "")),
            owasp=_split(value("owasp")),
            wasc=_split(value("wasc")),
            qualys_status=_clip(qualys_status, 16),
            ignored_reason=_clip(ignored_reason, 32),
            first_seen=first_seen,
            last_seen=last_seen,
            fixed_at=(last_seen or self.now) if status is FindingStatus.FIXED else None,
            ports=self._ports(value("port")),
            evidence=cap_evidence(
                evidence_text(row.payloads, row.results), self.evidence_max_bytes
            ),
            source=IMPORT_SOURCE,
        )
        return MappedRow(asset, from_api, finding)

    def _asset(self, value: _ValueFn) -> tuple[Asset, bool]:
        if self.report_asset is not None:
            return self.report_asset, self.report_asset_from_api
        url, host = value("url"), value("host")
        if url and urlsplit(url).hostname:
            origin = url_origin(url)
            api_key = self.api_assets.get(origin)
            if api_key is not None:
                return _asset(api_key, None, origin, self.report_date, source="api"), True
            name = value("asset_name") or urlsplit(origin).hostname
            return _asset(bounded_key("url:", origin), name, origin, self.report_date), False
        if host:
            name = value("asset_name") or host
            return _asset(bounded_key("host:", host.lower()), name, None, self.report_date), False
        column = self._column_name("url") if "url" in self.mapping.columns else "host"
        raise RowError(
            column,
            "no URL or host: every row needs one (or give --asset-name and --asset-url)",
        )

    def _severity(
        self, value: _ValueFn, finding_type: str | None
    ) -> tuple[Severity, SeveritySource, int | None]:
        raw = value("severity")
        level = int(raw) if self.is_was and raw and raw.isdigit() and len(raw) == 1 else None
        if finding_type == INFORMATION_GATHERED:
            return Severity.NONE, SeveritySource.FILE, level
        cvss = self._float(value("cvss_v3_base"), "cvss_v3_base")
        if cvss is not None:
            return severity_from_cvss(cvss), SeveritySource.CVSS_V3, level
        if raw is None:
            return Severity.NONE, SeveritySource.FILE, level
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
        return label, SeveritySource.FILE, level

    def _int(self, text: str, field: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise RowError(self._column_name(field), f"{text!r} is not a number") from None

    def _float(self, text: str | None, field: str) -> float | None:
        if not text:
            return None
        try:
            score = float(text)
        except ValueError:
            raise RowError(self._column_name(field), f"{text!r} is not a number") from None
        if not 0.0 <= score <= 10.0:
            raise RowError(self._column_name(field), f"score {text} is outside 0.0-10.0")
        return score

    def _ports(self, text: str | None) -> tuple[int, ...]:
        if not text:
            return ()
        ports = set()
        for part in re.split(r"[,;\s]+", text.strip()):
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 65536:
                raise RowError(self._column_name("port"), f"{part!r} is not a port number")
            ports.add(int(part))
        return tuple(sorted(ports))


def merge_ports(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(a) | set(b)))


def report_asset(
    name: str | None,
    url: str,
    *,
    api_assets: Mapping[str, str],
    report_date: datetime | None,
) -> tuple[Asset, bool]:
    """The asset of a whole WAS report (its APPENDIX web app, or --asset-name/--asset-url)."""
    normalised = normalise_url(url)
    api_key = api_assets.get(normalised)
    if api_key is not None:
        return _asset(api_key, name, url, report_date, source="api"), True
    return _asset(bounded_key("url:", normalised), name, url, report_date), False


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


def _split(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None
