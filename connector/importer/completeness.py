"""Never read a report as emptier than it is: what the file holds against what it declares.

Pure. The report's own SUMMARY (XML `GLOBAL_SUMMARY`, the CSV SUMMARY table) states how many
results of each type it holds. Refused (nothing written): a report that declares results while
none of its result lists could be located. A report holding fewer results of a type than it
declares (a trimmed export) is imported with a warning, and findings of that type are never
closed for being absent from it: the missing ones may be exactly those. The readers themselves
refuse a result element at a path their layout table does not know.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.errors import ImportFileError
from connector.importer.report import RESULT_TYPES, ReportFacts

EXPECTED_XML = (
    "RESULTS/VULNERABILITY_LIST (or SENSITIVE_CONTENT_LIST, INFORMATION_GATHERED_LIST), "
    "directly or under RESULTS/WEB_APPLICATION"
)
EXPECTED_CSV = (
    "a RESULTS section with VULNERABILITY, SENSITIVE_CONTENT or INFORMATION_GATHERED tables"
)


@dataclass(frozen=True)
class Completeness:
    """Which types a report holds in full (absent findings of those may be closed), and why
    not for the others."""

    complete_types: frozenset[str]
    warnings: tuple[str, ...]


def _plural(kind: str, n: int) -> str:
    return f"{n} {kind.lower().replace('_', ' ')}" + ("" if n == 1 else " results")


def check(facts: ReportFacts, *, where: str, xml: bool) -> Completeness:
    """Refuse a report whose results cannot be located; list what it holds in full."""
    declared = facts.declared
    total_found = sum(facts.found.values())
    if declared and sum(declared.values()) and not facts.located and not total_found:
        wanted = ", ".join(_plural(k, n) for k, n in declared.items() if n)
        raise ImportFileError(
            f"{where}: its SUMMARY declares {wanted}, but no result list could be located "
            f"(expected {EXPECTED_XML if xml else EXPECTED_CSV}): the report's layout is not "
            "one this importer reads; nothing was imported"
        )
    complete: set[str] = set()
    warnings: list[str] = []
    for kind in RESULT_TYPES:
        found = facts.found.get(kind, 0)
        said = declared.get(kind) if declared is not None else None
        if kind not in facts.located:
            if said:
                warnings.append(
                    f"the SUMMARY declares {_plural(kind, said)} but the report has no such "
                    "list: findings of that type were neither read nor closed"
                )
            continue
        if said is not None and found < said:
            warnings.append(
                f"the SUMMARY declares {_plural(kind, said)} but the report holds {found} "
                "(a trimmed export?): absent findings of that type were not closed"
            )
            continue
        if said is None and declared is None and kind not in facts.found:
            continue  # an empty list in a report without a SUMMARY proves nothing
        complete.add(kind)
    return Completeness(frozenset(complete), tuple(warnings))
