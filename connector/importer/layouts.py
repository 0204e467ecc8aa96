"""Every XML layout of a Qualys WAS report the importer reads, as ONE table of element paths.

A path is the element names below the document's root; the root is `WAS_SCAN_REPORT` (a Scan
Report) or `WAS_WEBAPP_REPORT` (a Web Application Report), which share this table. The layouts:

- flat (`WAS_SCAN_REPORT` before WAS API 3.13): `RESULTS/VULNERABILITY_LIST/VULNERABILITY`, ...,
  the web application in `APPENDIX/WEBAPP`;
- nested (3.13+, and every `WAS_WEBAPP_REPORT`): the lists one level deeper, per web application,
  `RESULTS/WEB_APPLICATION/VULNERABILITY_LIST/VULNERABILITY`, ..., the web applications in
  `APPENDIX/WEB_APPLICATION` (several in one report are fine).

A result element (VULNERABILITY, SENSITIVE_CONTENT, INFORMATION_GATHERED holding child elements)
anywhere else is a layout this importer does not know, and the report is refused.
"""

from __future__ import annotations

from enum import StrEnum

from connector.importer.report import RESULT_TYPES

ROOTS = ("WAS_SCAN_REPORT", "WAS_WEBAPP_REPORT")


class Part(StrEnum):
    RESULT = "result"  # one finding
    RESULT_LIST = "result list"  # VULNERABILITY_LIST, ...: the report has this type
    RESULTS = "results"
    RESULTS_WEBAPP = "results web application"  # ID, NAME (and URL) of the results' web app
    GLOSSARY_ENTRY = "glossary entry"
    OWASP = "OWASP name"
    WASC = "WASC name"
    APPENDIX_WEBAPP = "appendix web application"
    SCAN = "scan"
    SUMMARY = "summary"
    GENERATED = "generation date"
    FILTER = "filter"


_FLAT = ("RESULTS",)
_NESTED = ("RESULTS", "WEB_APPLICATION")

PATHS: dict[tuple[str, ...], Part] = {
    **{(*where, f"{t}_LIST", t): Part.RESULT for where in (_FLAT, _NESTED) for t in RESULT_TYPES},
    **{
        (
            *where,
            f"{t}_LIST",
        ): Part.RESULT_LIST
        for where in (_FLAT, _NESTED)
        for t in RESULT_TYPES
    },
    ("RESULTS",): Part.RESULTS,
    ("RESULTS", "WEB_APPLICATION"): Part.RESULTS_WEBAPP,
    ("GLOSSARY", "QID_LIST", "QID"): Part.GLOSSARY_ENTRY,
    ("GLOSSARY", "OWASP_LIST", "OWASP"): Part.OWASP,
    ("GLOSSARY", "WASC_LIST", "WASC"): Part.WASC,
    ("APPENDIX", "WEBAPP"): Part.APPENDIX_WEBAPP,
    ("APPENDIX", "WEB_APPLICATION"): Part.APPENDIX_WEBAPP,
    ("APPENDIX", "SCAN_LIST", "SCAN"): Part.SCAN,
    ("SUMMARY", "GLOBAL_SUMMARY"): Part.SUMMARY,
    ("HEADER", "GENERATION_DATETIME"): Part.GENERATED,
    ("FILTERS", "FILTER"): Part.FILTER,
}

# The element names worth an event while streaming (the last name of every path above, and the
# result elements, so that one at an unknown path is seen).
TAGS = tuple(sorted({path[-1] for path in PATHS} | set(RESULT_TYPES)))
RESULT_TAGS = frozenset(RESULT_TYPES)
# What to tell a user whose report holds none of these.
EXPECTED = " or ".join("/".join(path) for path, part in PATHS.items() if part is Part.RESULT_LIST)


def layout_name(path: tuple[str, ...]) -> str:
    """`RESULTS/VULNERABILITY_LIST` for a result's path: where the results were found."""
    return "/".join(path[:-1])
