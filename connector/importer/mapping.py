"""Import mappings: which file column feeds which field, and which file value means which severity.

Pure: no I/O beyond parsing the TOML text a caller hands over. Built-in mappings exist for the
Qualys WAS CSV and XML reports; user mappings (usually for flat CSV) are saved in the database.
For WAS reports a field's column is looked up in the result row first, then in the glossary entry
of the row's QID (that is where Title, Severity Level, CWE... live).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connector.errors import ImportFileError
from connector.models import Severity


class ImportFormat(StrEnum):
    QUALYS_WAS_CSV = "qualys_was_csv"
    QUALYS_WAS_XML = "qualys_was_xml"
    FLAT_CSV = "flat_csv"


# field -> what it feeds. The seed's Title / Host IP / URL / Source ID / Port / Severity are here.
FIELDS: dict[str, str] = {
    "title": "finding title (required; WAS reports: the glossary title of the QID)",
    "url": "URL: the finding's URL; for flat CSV also the asset (its scheme://host[:port])",
    "host": "Host IP or name: the asset, when the file has no URL column",
    "source_id": "Source ID (QID): findings are matched by it per asset, else by title",
    "finding_id": "the scanner's persistent finding id (WAS: Detection ID, the API's finding id)",
    "report_id": "the report's own result id (WAS: ID, per scan): evidence; the key only "
    "when the report has no finding id",
    "unique_id": "the scanner's unique id (WAS: Unique ID)",
    "port": "Port: rows of one finding on several ports become one finding with all ports",
    "severity": "Severity: the file's value, translated through the severity values table",
    "cvss_v3_base": "the finding's CVSS v3 base score: when present, severity comes from the "
    "seed's CVSS bands (WAS reports: else the glossary's, else the level)",
    "cvss_v3_temporal": "the finding's CVSS v3 temporal score",
    "status": "the scanner's status text (FIXED or PROTECTED make the finding Fixed)",
    "ignored": "ignored flag (Yes/true)",
    "ignore_reason": "why the finding is ignored",
    "param": "the vulnerable parameter",
    "first_seen": "first detection date",
    "last_seen": "last detection date",
    "detection_date": "the date of this detection (WAS scan reports): first and last seen "
    "when the file has no first/last columns",
    "cwe": "CWE ids (CWE-79,CWE-80)",
    "owasp": "OWASP categories (A1,A7; WAS reports: named from the glossary)",
    "wasc": "WASC categories (WASC-8,WASC-15; WAS reports: named from the glossary)",
    "type": "finding type (WAS: the results table, e.g. VULNERABILITY)",
    "asset_name": "the asset's display name (flat CSV)",
}
REQUIRED_ONE_OF: tuple[tuple[str, ...], ...] = (("title",), ("url", "host"))

WAS_SEVERITY_VALUES: dict[str, Severity] = {
    "5": Severity.CRITICAL,
    "4": Severity.HIGH,
    "3": Severity.MEDIUM,
    "2": Severity.LOW,
    "1": Severity.LOW,
}


@dataclass(frozen=True)
class ImportMapping:
    """A named mapping. `columns`: field -> file column; `severity_values`: file value -> label."""

    name: str
    format: ImportFormat
    columns: Mapping[str, str]
    severity_values: Mapping[str, Severity] = field(default_factory=dict)
    builtin: bool = False

    def column(self, field_name: str) -> str | None:
        return self.columns.get(field_name)

    def severity_for(self, value: str) -> Severity | None:
        """The label for a file value (trimmed, case-insensitive); None when the table lacks it."""
        wanted = value.strip().casefold()
        for key, label in self.severity_values.items():
            if key.strip().casefold() == wanted:
                return label
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "columns": dict(self.columns),
            "severity_values": {k: v.value for k, v in self.severity_values.items()},
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> ImportMapping:
        return build_mapping(
            name,
            format_name=str(data.get("format", ImportFormat.FLAT_CSV.value)),
            columns=data.get("columns") or {},
            severity_values=data.get("severity_values") or {},
        )


BUILTIN_MAPPINGS: dict[str, ImportMapping] = {
    "qualys-was-csv": ImportMapping(
        name="qualys-was-csv",
        format=ImportFormat.QUALYS_WAS_CSV,
        columns={
            "title": "Title",
            "source_id": "QID",
            "finding_id": "Detection ID",
            "report_id": "ID",
            "unique_id": "Unique ID",
            "url": "Url",
            "param": "Param",
            "port": "Port",
            "severity": "Severity Level",
            "cvss_v3_base": "CVSS V3 Base",
            "cvss_v3_temporal": "CVSS V3 Temporal",
            "status": "Status",
            "ignored": "Ignored",
            "ignore_reason": "Ignore Reason",
            "first_seen": "First Time Detected",
            "last_seen": "Last Time Detected",
            "detection_date": "Detection Date",
            "cwe": "CWE",
            "owasp": "OWASP",
            "wasc": "WASC",
        },
        severity_values=WAS_SEVERITY_VALUES,
        builtin=True,
    ),
    "qualys-was-xml": ImportMapping(
        name="qualys-was-xml",
        format=ImportFormat.QUALYS_WAS_XML,
        columns={
            "title": "TITLE",
            "source_id": "QID",
            "finding_id": "DETECTION_ID",
            "report_id": "ID",
            "unique_id": "UNIQUE_ID",
            "url": "URL",
            "param": "PARAM",
            "port": "PORT",
            "severity": "SEVERITY",
            "cvss_v3_base": "CVSS_V3_BASE",
            "cvss_v3_temporal": "CVSS_V3_TEMPORAL",
            "status": "STATUS",
            "ignored": "IGNORED",
            "ignore_reason": "IGNORE_REASON",
            "first_seen": "FIRST_TIME_DETECTED",
            "last_seen": "LAST_TIME_DETECTED",
            "detection_date": "DETECTION_DATE",
            "cwe": "CWE",
            "owasp": "OWASP",
            "wasc": "WASC",
        },
        severity_values=WAS_SEVERITY_VALUES,
        builtin=True,
    ),
}
BUILTIN_FOR_FORMAT: dict[ImportFormat, str] = {
    ImportFormat.QUALYS_WAS_CSV: "qualys-was-csv",
    ImportFormat.QUALYS_WAS_XML: "qualys-was-xml",
}


def parse_severity_label(text: str) -> Severity | None:
    wanted = text.strip().casefold()
    return next((s for s in Severity if s.value.casefold() == wanted), None)


def build_mapping(
    name: str,
    *,
    format_name: str,
    columns: Mapping[str, Any],
    severity_values: Mapping[str, Any],
) -> ImportMapping:
    """A validated mapping; every problem is reported at once in one ImportFileError."""
    problems: list[str] = []
    name = name.strip()
    if not name or len(name) > 100:
        problems.append("the mapping name must be 1 to 100 characters")
    try:
        fmt = ImportFormat(format_name)
    except ValueError:
        problems.append(
            f"format {format_name!r} is unknown (known: {', '.join(f.value for f in ImportFormat)})"
        )
        fmt = ImportFormat.FLAT_CSV
    clean_columns = _clean_columns(columns, problems)
    clean_values = _clean_values(severity_values, problems)
    builtin = BUILTIN_FOR_FORMAT.get(fmt)
    if builtin is not None:  # a WAS mapping overrides the built-in one's columns and values
        base = BUILTIN_MAPPINGS[builtin]
        clean_columns = {**base.columns, **clean_columns}
        clean_values = {**base.severity_values, **clean_values}
    if fmt is ImportFormat.FLAT_CSV:
        for group in REQUIRED_ONE_OF:
            if not any(f in clean_columns for f in group):
                problems.append(
                    f"a flat CSV mapping needs a column for {' or '.join(group)} "
                    f"(--column {group[0]}=COLUMN)"
                )
    if "severity" in clean_columns and not clean_values:
        problems.append(
            "the severity column needs a severity values table (--severity VALUE=LABEL)"
        )
    if problems:
        raise ImportFileError(f"mapping {name!r} is invalid: " + "; ".join(problems))
    return ImportMapping(name, fmt, clean_columns, clean_values)


def _clean_columns(columns: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for field_name, column in columns.items():
        if field_name not in FIELDS:
            problems.append(f"unknown field {field_name!r} (known: {', '.join(FIELDS)})")
        elif not isinstance(column, str) or not column.strip():
            problems.append(f"field {field_name!r} needs a column name")
        else:
            clean[field_name] = column.strip()
    return clean


def _clean_values(values: Mapping[str, Any], problems: list[str]) -> dict[str, Severity]:
    clean: dict[str, Severity] = {}
    for value, label in values.items():
        severity = parse_severity_label(str(label))
        if severity is None:
            problems.append(
                f"severity value {value!r} maps to {label!r}, which is not one of "
                f"{', '.join(s.value for s in Severity)}"
            )
        else:
            clean[str(value).strip()] = severity
    return clean


def mapping_from_toml(name: str, text: str, *, source: str = "mapping file") -> ImportMapping:
    """A mapping from TOML: `format = "flat_csv"`, `[columns] title = "Name"`, `[severity] ...`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFileError(f"{source} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"format", "columns", "severity", "severity_values"}
    if unknown:
        raise ImportFileError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))} "
            "(known: format, columns, severity)"
        )
    columns = data.get("columns", {})
    values = data.get("severity", data.get("severity_values", {}))
    if not isinstance(columns, dict) or not isinstance(values, dict):
        raise ImportFileError(f"{source}: [columns] and [severity] must be tables")
    return build_mapping(
        name,
        format_name=str(data.get("format", ImportFormat.FLAT_CSV.value)),
        columns=columns,
        severity_values=values,
    )


def mapping_from_flags(
    name: str, *, format_name: str, columns: Iterable[str], severities: Iterable[str]
) -> ImportMapping:
    """A mapping from `--column FIELD=COLUMN` and `--severity VALUE=LABEL` flags."""
    return build_mapping(
        name,
        format_name=format_name,
        columns=_pairs(columns, "--column", "FIELD=COLUMN"),
        severity_values=_pairs(severities, "--severity", "VALUE=LABEL"),
    )


def _pairs(items: Iterable[str], flag: str, shape: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        left, sep, right = item.partition("=")
        if not sep or not left.strip():
            raise ImportFileError(f"{flag} {item!r} must look like {shape}")
        pairs[left.strip()] = right.strip()
    return pairs


def _norm(column: str) -> str:
    return column.strip().casefold()


def resolve_columns(mapping: ImportMapping, header: Iterable[str]) -> dict[str, str]:
    """field -> the header's own spelling of the mapped column (matching is case-insensitive)."""
    by_norm = {_norm(h): h for h in header}
    return {f: by_norm[_norm(col)] for f, col in mapping.columns.items() if _norm(col) in by_norm}


def missing_required(mapping: ImportMapping, header: Iterable[str]) -> list[str]:
    """Problems with a flat CSV header: each required field whose column is absent."""
    present = resolve_columns(mapping, header)
    problems = []
    for group in REQUIRED_ONE_OF:
        if not any(f in present for f in group):
            wanted = " or ".join(
                f"{f} <- {mapping.columns[f]!r}" if f in mapping.columns else f"{f} (not mapped)"
                for f in group
            )
            problems.append(wanted)
    return problems
