"""What one import did, built once at its end: the frozen summary the CLI prints, the web console
shows, and `imported_scans` keeps (as `as_json()`, which `from_json` reads back)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

SKIPPED_KEPT = 1000  # skipped rows listed (all are counted)


@dataclass(frozen=True)
class WebAppSummary:
    asset_key: str
    name: str | None
    url: str | None
    from_api: bool  # an API web app: findings attach to it; the asset row is left as it is


@dataclass(frozen=True)
class ImportSummary:
    """One import. Counts are findings (one per finding key), except `rows` and `skipped`."""

    file_name: str
    format: str  # qualys_was_csv, qualys_was_xml, flat_csv
    kind: str  # WAS_SCAN_REPORT, WAS_WEBAPP_REPORT, Scan Report (CSV), flat CSV
    mapping: str
    checksum: str
    report_date: datetime | None
    identity: str  # the column findings are keyed on ("Detection ID", or the fallback "ID")
    layouts: tuple[str, ...]
    webapps: tuple[WebAppSummary, ...]
    rows: int  # result rows read
    findings: int  # distinct findings among them
    created: int
    updated: int  # changed by this report (it was newer, or filled empty fields)
    unchanged: int  # the store already held exactly this
    kept: int  # the store holds newer information (an API sync, a newer report): left as is
    closed: int  # Active findings absent from this report, now Fixed
    consolidated_rows: int  # rows merged into a finding seen earlier in the file (more ports)
    by_type: Mapping[str, int] = field(default_factory=dict)
    by_severity: Mapping[str, int] = field(default_factory=dict)
    skipped: int = 0
    skipped_rows: tuple[str, ...] = ()  # "line N: reason", the first SKIPPED_KEPT
    glossary_entries: int = 0
    weaknesses_written: int = 0
    closing: str = ""  # what closing did or why it did not happen
    warnings: tuple[str, ...] = ()
    run_id: int = 0
    scan_id: int = 0
    previous_import_id: int | None = None  # an earlier import of the same file
    previous_imported_at: datetime | None = None

    @property
    def wrote_findings(self) -> bool:
        return bool(self.created or self.updated or self.closed)

    def counts(self) -> dict[str, Any]:
        """The figures sync_runs.counts keeps for an import run."""
        return {
            "rows": self.rows,
            "findings": self.findings,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "fixed": self.closed,
            "skipped": self.skipped,
            "consolidated_rows": self.consolidated_rows,
            "by_type": dict(self.by_type),
            "by_severity": dict(self.by_severity),
        }

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("report_date", "previous_imported_at"):
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportSummary:
        """A stored summary; keys it does not know are ignored, missing ones default."""
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        for name in ("report_date", "previous_imported_at"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        values["webapps"] = tuple(WebAppSummary(**w) for w in values.get("webapps", ()))
        for name in ("layouts", "skipped_rows", "warnings"):
            values[name] = tuple(values.get(name, ()))
        defaults = {
            "file_name": "?", "format": "?", "kind": "?", "mapping": "?", "checksum": "",
            "report_date": None, "identity": "?", "layouts": (), "webapps": (), "rows": 0,
            "findings": 0, "created": 0, "updated": 0, "unchanged": 0, "kept": 0, "closed": 0,
            "consolidated_rows": 0,
        }  # fmt: skip
        return cls(**{**defaults, **values})
