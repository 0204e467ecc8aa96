"""The import steps' form logic, pure: which column probably feeds which field, the draft of a new
mapping between the field step and the severity step, and reading the severity-values table (the
file's values plus values the file lacks) from a submitted form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connector.importer.mapping import FIELDS, REQUIRED_ONE_OF, WAS_SEVERITY_VALUES, ImportFormat
from connector.models import Severity

# The seed's fields first: Title, Host IP or URL (one required), Source ID and Port (recommended),
# Severity; the rest follow under "more fields".
MAIN_FIELDS = ("title", "url", "host", "source_id", "port", "severity")
MORE_FIELDS = tuple(f for f in FIELDS if f not in MAIN_FIELDS)
RECOMMENDED = {
    "source_id": "Source ID is not mapped: findings are matched by title instead of QID",
    "port": "Port is not mapped: the same finding on several ports stays several rows' worth",
}
LABELS = {
    "title": "Title", "url": "URL", "host": "Host IP", "source_id": "Source ID", "port": "Port",
    "severity": "Severity",
}  # fmt: skip
SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "vulnerability", "vulnerability name", "finding"),
    "url": ("url", "uri", "link"),
    "host": ("host", "host ip", "ip", "ip address", "hostname"),
    "source_id": ("qid", "source id", "plugin id", "id"),
    "port": ("port",),
    "severity": ("severity", "severity level", "risk", "criticality"),
    "cvss_v3_base": ("cvss v3 base", "cvss3", "cvss v3", "cvss"),
    "status": ("status", "state"),
    "param": ("param", "parameter"),
    "first_seen": ("first seen", "first detected", "detection date"),
    "last_seen": ("last seen", "last detected", "last detection date"),
    "cwe": ("cwe",),
    "owasp": ("owasp",),
    "wasc": ("wasc",),
    "asset_name": ("asset", "asset name", "application", "web application"),
}
SEVERITY_LABELS = tuple(s.value for s in Severity)
BLANK_ROWS = 3  # empty rows offered for severity values the file lacks


def field_label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def suggest_columns(columns: Sequence[str]) -> dict[str, str]:
    """field -> the column whose name is a known synonym (each column used once)."""
    by_name = {c.strip().casefold(): c for c in columns}
    chosen: dict[str, str] = {}
    for name, synonyms in SYNONYMS.items():
        column = next((by_name[s] for s in synonyms if s in by_name), None)
        if column is not None and column not in chosen.values():
            chosen[name] = column
    return chosen


def suggest_label(value: str) -> str:
    """A likely label for a file value: a label's own name, else the WAS 1..5 table, else ''."""
    text = value.strip().casefold()
    for label in SEVERITY_LABELS:
        if label.casefold() == text:
            return label
    aliases = {"info": "None", "informational": "None", "moderate": "Medium", "urgent": "Critical"}
    if text in aliases:
        return aliases[text]
    was = WAS_SEVERITY_VALUES.get(text)
    return was.value if was is not None else ""


@dataclass
class MappingDraft:
    """A new mapping between the field step and the severity step."""

    name: str
    format: ImportFormat
    columns: dict[str, str]
    severity_values: dict[str, str] = field(default_factory=dict)
    extra_rows: int = BLANK_ROWS
    warnings: list[str] = field(default_factory=list)


def read_field_form(
    form: Mapping[str, str], fmt: ImportFormat, columns: Sequence[str]
) -> tuple[MappingDraft, list[str]]:
    """The draft from the field step (`name`, `col_<field>`), and the problems that block it."""
    problems: list[str] = []
    name = form.get("name", "").strip()
    if not name:
        problems.append("give the mapping a name")
    elif len(name) > 100:
        problems.append("the mapping name must be at most 100 characters")
    chosen: dict[str, str] = {}
    known = set(columns)
    for field_name in FIELDS:
        column = form.get(f"col_{field_name}", "").strip()
        if not column:
            continue
        if column not in known:
            problems.append(f"{field_label(field_name)}: the file has no column {column!r}")
        else:
            chosen[field_name] = column
    if fmt is ImportFormat.FLAT_CSV:
        for group in REQUIRED_ONE_OF:
            if not any(f in chosen for f in group):
                labels = " or ".join(field_label(f) for f in group)
                problems.append(f"map {labels} to a column of the file (required)")
    warnings = [text for f, text in RECOMMENDED.items() if f not in chosen]
    if fmt is not ImportFormat.FLAT_CSV:
        warnings = []  # a WAS mapping keeps the built-in columns it does not override
    return MappingDraft(name, fmt, chosen, warnings=warnings), problems


def read_severity_form(form: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """value -> label from the severity step's rows (`value_<i>`, `label_<i>`, `remove_<i>`).

    A row with a value needs a label (an unlabelled one is kept with "" for the form to show it
    again); an empty row is ignored; a value given twice is a problem."""
    problems: list[str] = []
    table: dict[str, str] = {}
    indexes = sorted(
        {int(k.split("_", 1)[1]) for k in form if k.startswith("value_") and k[6:].isdigit()}
    )
    for i in indexes:
        value = form.get(f"value_{i}", "").strip()
        label = form.get(f"label_{i}", "").strip()
        if not value or form.get(f"remove_{i}"):
            continue
        if value.casefold() in (v.casefold() for v in table):
            problems.append(f"the file value {value!r} is listed twice")
            continue
        if label not in SEVERITY_LABELS:
            problems.append(f"choose a severity for the file value {value!r}")
            label = ""
        table[value] = label
    return table, problems
