"""The Qualys WAS scan report as XML (`WAS_SCAN_REPORT`), read in two streamed passes.

One decode step: xmltodict in streaming mode (`item_depth=4`), so only one record (a result, a
glossary QID, an appendix field) is in memory at a time. Pass 1 (`scan_report`) keeps the glossary,
the web application and the scan dates and computes the checksum; pass 2 (`result_rows`) hands
each result to a callback and stops at the GLOSSARY. Documents with a DOCTYPE are refused
outright, so no entity (internal, external, or an expansion bomb) is ever declared or resolved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

import xmltodict

from connector.errors import ImportFileError
from connector.importer.dates import parse_report_date
from connector.importer.mapping import ImportMapping
from connector.importer.report import Payload, ReportInfo, ReportRow, WebApp
from connector.importer.textlines import check_encoding
from connector.models import Rejected

ROOT = "WAS_SCAN_REPORT"
RESULT_TABLES = frozenset({"VULNERABILITY", "SENSITIVE_CONTENT", "INFORMATION_GATHERED"})
_CHUNK = 1024 * 1024

Path4 = list[tuple[str, Any]]


def looks_like_report(head: bytes) -> bool:
    """True when the first bytes of a file open a WAS_SCAN_REPORT document."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<") and f"<{ROOT}".encode() in head


class _DoctypeRefusedError(Exception):
    pass


class _SafeExpat:
    """An `expat` module for xmltodict whose parsers refuse any DOCTYPE (hence any entity)."""

    def __init__(self) -> None:
        self.parser: Any = None

    def ParserCreate(  # noqa: N802 - the name xmltodict calls
        self, encoding: str | None = None, namespace_separator: str | None = None
    ) -> Any:
        parser = expat.ParserCreate(encoding, namespace_separator)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser = parser
        return parser


def _refuse_doctype(*_args: object) -> None:
    raise _DoctypeRefusedError


class _HashingReader:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.hash = hashlib.sha256()

    def read(self, size: int = _CHUNK) -> bytes:
        data = self._handle.read(size)
        self.hash.update(data)
        return data


def _force_list(path: Path4, key: str, _value: object) -> bool:
    parent = path[-1][0] if path else ""
    return (parent, key) in {("PAYLOADS", "PAYLOAD"), ("HEADERS", "HEADER")}


def _parse(
    path: Path,
    encoding: str | None,
    on_item: Callable[[Path4, Any, int], bool],
) -> str:
    """Stream `path` through xmltodict; `on_item(path, item, line)` returns False to stop early."""
    safe = _SafeExpat()

    def callback(item_path: Path4, item: Any) -> bool:
        return on_item(item_path, item, int(safe.parser.CurrentLineNumber))

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    reader = _HashingReader(handle)
    codec = check_encoding(encoding) if encoding else None
    with handle:
        try:
            xmltodict.parse(
                reader,
                encoding=codec,
                expat=safe,
                item_depth=4,
                item_callback=callback,
                force_list=_force_list,
                disable_entities=True,
            )
        except xmltodict.ParsingInterrupted:
            pass
        except _DoctypeRefusedError as exc:
            raise ImportFileError(
                f"{path}: line {safe.parser.CurrentLineNumber}: the XML declares a DOCTYPE; "
                "scan reports have none and DTD entities are refused for safety: "
                "export the report from Qualys again"
            ) from exc
        except expat.ExpatError as exc:
            problem = expat.ErrorString(exc.code)
            hint = (
                "the file looks truncated; export the report again"
                if exc.code == expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS]
                or "unclosed" in problem
                else "check that the file is a Qualys WAS XML report"
            )
            raise ImportFileError(
                f"{path}: line {exc.lineno}, column {exc.offset}: not valid XML ({problem}): "
                f"{hint}"
            ) from exc
        except ValueError as exc:  # xmltodict's "entities are disabled"
            raise ImportFileError(
                f"{path}: line {safe.parser.CurrentLineNumber}: the XML declares entities, "
                f"which are refused ({exc}): export the report from Qualys again"
            ) from exc
    return reader.hash.hexdigest()


def scan_report(path: Path, *, encoding: str | None, mapping: ImportMapping) -> ReportInfo:
    """Pass 1: checksum, report date, web application, glossary, result tables seen."""
    wanted = {c.casefold() for c in mapping.columns.values()}
    glossary: dict[str, dict[str, str]] = {}
    tables: dict[str, tuple[str, ...]] = {}
    webapp: dict[str, str] = {}
    scan_ends: list[datetime] = []
    root_ok: list[bool] = []

    def on_item(item_path: Path4, item: Any, _line: int) -> bool:
        names = [name for name, _ in item_path]
        if not root_ok:
            if names[0] != ROOT:
                raise ImportFileError(
                    f"{path}: the XML root is <{names[0]}>, not <{ROOT}>: "
                    "this is not a Qualys WAS scan report"
                )
            root_ok.append(True)
        section, _list_name, record = names[1], names[2], names[3]
        if section == "RESULTS" and record in RESULT_TABLES and isinstance(item, Mapping):
            tables.setdefault(record, tuple(item))
        elif section == "GLOSSARY" and record == "QID" and isinstance(item, Mapping):
            qid = _text(item.get("QID"))
            if qid:
                glossary[qid] = {
                    k: t for k, v in item.items() if k.casefold() in wanted and (t := _text(v))
                }
        elif section == "APPENDIX" and names[2] == "WEBAPP":
            webapp[record] = _text(item) or ""
        elif section == "APPENDIX" and record == "SCAN" and isinstance(item, Mapping):
            end = parse_report_date(_text(item.get("END_DATE"))) or parse_report_date(
                _text(item.get("START_DATE"))
            )
            if end is not None:
                scan_ends.append(end)
        return True

    checksum = _parse(path, encoding, on_item)
    if tables and not glossary:
        raise ImportFileError(
            f"{path}: the report has RESULTS but no GLOSSARY: the file looks truncated; "
            "export the report again"
        )
    return ReportInfo(
        checksum=checksum,
        report_date=max(scan_ends) if scan_ends else None,
        webapp=WebApp(webapp.get("NAME") or None, webapp.get("URL") or None) if webapp else None,
        glossary=glossary,
        tables=tables,
    )


def result_rows(
    path: Path, *, encoding: str | None, handle: Callable[[ReportRow | Rejected], None]
) -> None:
    """Pass 2: hand each result record (flattened, evidence decoded) to `handle`."""

    def on_item(item_path: Path4, item: Any, line: int) -> bool:
        section, record = item_path[1][0], item_path[3][0]
        if section == "GLOSSARY":
            return False
        if section == "RESULTS" and record in RESULT_TABLES:
            if isinstance(item, Mapping):
                handle(_row(record, item, line))
            else:
                handle(Rejected("row", f"line {line}", f"an empty <{record}> element"))
        return True

    _parse(path, encoding, on_item)


def _row(table: str, item: Mapping[str, Any], line: int) -> ReportRow:
    cells = {k: t for k, v in item.items() if k not in {"PAYLOADS", "DATA"} and (t := _text(v))}
    payloads = []
    container = item.get("PAYLOADS")
    entries = container.get("PAYLOAD", []) if isinstance(container, Mapping) else []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            continue
        request = _child(entry, "REQUEST")
        response = _child(entry, "RESPONSE")
        num = _text(entry.get("NUM"))
        payloads.append(
            Payload(
                num=int(num) if num and num.isdigit() else position,
                payload=_text(entry.get("PAYLOAD")),
                method=_text(request.get("METHOD")),
                url=_text(request.get("URL")),
                headers=_headers(request.get("HEADERS")),
                response=_text(response.get("CONTENTS")),
                evidence=_text(response.get("EVIDENCE")),
            )
        )
    return ReportRow(
        line_no=line,
        table=table,
        cells=cells,
        payloads=tuple(payloads),
        results=_text(item.get("DATA")),
    )


def _child(entry: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = entry.get(name)
    return value if isinstance(value, Mapping) else {}


def _headers(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return _text(value)
    lines = [
        f"{_text(h.get('key')) or ''}: {_text(h.get('value')) or ''}"
        for h in value.get("HEADER", [])
        if isinstance(h, Mapping)
    ]
    return "\n".join(lines) or None


def _element_text(value: Mapping[str, Any]) -> str | None:
    text = value.get("#text")
    if text is None:
        return None
    if str(value.get("@base64", "")).lower() != "true":
        return str(text).strip()
    try:
        return base64.b64decode(str(text), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return str(text)


def _text(value: Any) -> str | None:
    """An element's text; `base64="true"` content decoded; None for elements with children."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _element_text(value)
    if isinstance(value, list):
        return ", ".join(t for v in value if (t := _text(v)))
    return str(value).strip()
