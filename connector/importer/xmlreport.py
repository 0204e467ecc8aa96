"""The Qualys WAS report as XML (`WAS_SCAN_REPORT`, `WAS_WEBAPP_REPORT`), read in two streams.

Both passes stream the document through lxml's `iterparse` (libxml2: the fast path) with events
only for the elements of the layout table (`layouts.PATHS`); each element is turned into plain
cells once and then cleared, so memory holds one result at a time. Pass 1 (`read_facts`) learns
everything but the results (glossary, web applications, dates, SUMMARY, filters) and counts the
result elements at every path, refusing one at a path the table does not know; it also proves the
whole file parses before anything is written. Pass 2 (`iter_rows`) yields the results and stops at
the end of RESULTS. Entities are never resolved, DTDs never loaded, nothing is fetched; a
document with a DOCTYPE is refused before parsing (`detect`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

from lxml import etree

from connector.errors import ImportFileError
from connector.importer.dates import parse_report_date
from connector.importer.layouts import (
    PATHS,
    RESULT_TAGS,
    ROOTS,
    TAGS,
    Part,
    layout_name,
)
from connector.importer.report import (
    RAW_DIGEST_BYTES,
    Payload,
    RawRows,
    ReportFacts,
    ReportRow,
    WebApp,
)
from connector.importer.textlines import GuardedReader, Progress, check_encoding

_ROW_TAGS = (*sorted(RESULT_TAGS), "RESULTS")  # pass 2 needs no other element's events
_SUMMARY_TYPES = {"VULNERABILITY", "SENSITIVE_CONTENT", "INFORMATION_GATHERED"}


def _path(element: Any) -> tuple[str, ...]:
    """The element's path below the root, e.g. ('RESULTS', 'WEB_APPLICATION')."""
    names: list[str] = []
    while element is not None:
        names.append(element.tag)
        element = element.getparent()
    names.pop()  # the root
    return tuple(reversed(names))


def _release(element: Any) -> None:
    """Free an element that has been read, and the siblings read before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _text(element: Any) -> str | None:
    """An element's text; `base64="true"` content decoded; None when it has none."""
    text: str | None = element.text
    if text is None:
        return None
    if element.get("base64") == "true":
        try:
            decoded = base64.b64decode(text, validate=False)
            return decoded.decode("utf-8", "replace").strip()
        except (binascii.Error, ValueError):
            return text.strip()
    return text.strip()


def cells_of(element: Any, prefix: str = "") -> dict[str, str]:
    """The element's children as cells: leaves by name, nested ones as PARENT_CHILD (CVSS_V3_BASE),
    repeated leaves (ACCESS_PATH/URL) joined with ", "."""
    cells: dict[str, str] = {}
    for child in element:
        _put(cells, child, prefix)
    return cells


def _put(cells: dict[str, str], child: Any, prefix: str) -> None:
    tag = child.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return
    name = prefix + tag
    if len(child):
        leaves = [t for c in child if isinstance(c.tag, str) and (t := _text(c))]
        if len({c.tag for c in child}) == 1 and len(leaves) == len(child):
            cells[name] = ", ".join(leaves)  # a list of one element: ACCESS_PATH/URL...
        else:
            cells.update(cells_of(child, name + "_"))
        return
    text = _text(child)
    if text:
        cells[name] = f"{cells[name]}, {text}" if name in cells else text


def _payloads(element: Any) -> tuple[Payload, ...]:
    payloads = []
    for position, entry in enumerate(element.iterchildren("PAYLOAD"), start=1):
        request = entry.find("REQUEST")
        response = entry.find("RESPONSE")
        num = entry.findtext("NUM")
        headers = None
        body = None
        method = url = None
        if request is not None:
            method = _child_text(request, "METHOD")
            url = _child_text(request, "URL")
            body = _child_text(request, "BODY")
            lines = [
                f"{(h.findtext('key') or '').strip()}: {(h.findtext('value') or '').strip()}"
                for h in request.iterfind("HEADERS/HEADER")
            ]
            headers = "\n".join(lines) or None
        payloads.append(
            Payload(
                num=int(num) if num and num.strip().isdigit() else position,
                payload=_child_text(entry, "PAYLOAD"),
                method=method,
                url=url,
                headers=headers,
                body=body,
                response=_child_text(response, "CONTENTS") if response is not None else None,
                evidence=_child_text(response, "EVIDENCE") if response is not None else None,
            )
        )
    return tuple(payloads)


def _child_text(element: Any, name: str) -> str | None:
    child = element.find(name)
    return _text(child) if child is not None else None


def _stream(
    path: Path, encoding: str | None, progress: Progress | None, *, tags: tuple[str, ...] = TAGS
) -> Iterator[Any]:
    """(event, element) for the layout table's elements, with lxml errors translated."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    reader = GuardedReader(path, handle, allow_nul=True, progress=progress)
    codec = check_encoding(encoding) if encoding else None
    context = etree.iterparse(
        reader,
        events=("end",),
        tag=tags,
        encoding=codec,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
    )
    with handle:
        try:
            yield from context
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno, 0)
            hint = (
                "the file looks truncated; export the report again"
                if "end of data" in str(exc.msg) or "Premature end" in str(exc.msg)
                else "check that the file is a Qualys WAS XML report"
            )
            raise ImportFileError(
                f"{path}: line {line}, column {column}: not valid XML ({exc.msg}): {hint}"
            ) from exc
    yield "hash", reader.sha256


class _Facts:
    """Pass 1's collector: one handler per part of the layout table."""

    def __init__(self, path: Path, qid_element: str) -> None:
        self.path = path
        self.capture = qid_element
        self.raw_rows = RawRows()
        self._qids: dict[str, str] = {}
        self.root: str | None = None
        self.glossary: dict[str, dict[str, str]] = {}
        self.names: dict[Part, dict[str, str]] = {Part.OWASP: {}, Part.WASC: {}}
        self.appendix: list[WebApp] = []
        self.results_apps: list[WebApp] = []
        self.scan_ends: list[datetime] = []
        self.generated: datetime | None = None
        self.declared: dict[str, int] | None = None
        self.found: Counter[str] = Counter()
        self.located: set[str] = set()
        self.layouts: set[str] = set()
        self.filters: list[str] = []
        self.handlers = {
            Part.RESULT_LIST: self._list,
            Part.RESULTS_WEBAPP: lambda e: self.results_apps.append(_webapp(e)),
            Part.GLOSSARY_ENTRY: self._glossary,
            Part.OWASP: lambda e: self._name(Part.OWASP, e),
            Part.WASC: lambda e: self._name(Part.WASC, e),
            Part.APPENDIX_WEBAPP: lambda e: self.appendix.append(_webapp(e)),
            Part.SCAN: self._scan,
            Part.SUMMARY: self._summary,
            Part.GENERATED: self._generated,
            Part.FILTER: self._filter,
        }

    def element(self, element: Any) -> None:
        if self.root is None:
            self.root = element.getroottree().getroot().tag
            if self.root not in ROOTS:
                raise ImportFileError(
                    f"{self.path}: the XML root is <{self.root}>, not <{ROOTS[0]}> or "
                    f"<{ROOTS[1]}>: this is not a Qualys WAS report"
                )
        where = _path(element)
        part = PATHS.get(where)
        if part is Part.RESULT:
            self.found[element.tag] += 1
            self.layouts.add(layout_name(where))
            qid = (element.findtext(self.capture) or "").strip() or None
            qid = self._qids.setdefault(qid, qid) if qid else None  # one string per QID
            webapp = _webapp_of(element) if len(where) == 4 else None
            self.raw_rows.append(
                element.sourceline or 0, element.tag, qid, webapp, _digest(element)
            )
            _release(element)
        elif element.tag in RESULT_TAGS and len(element):
            tag = element.tag
            raise ImportFileError(
                f"{self.path}: line {element.sourceline}: a <{tag}> result at "
                f"{'/'.join(where)}, a layout this importer does not know (it reads "
                f"RESULTS/{tag}_LIST/{tag} and RESULTS/WEB_APPLICATION/{tag}_LIST/{tag}): "
                "nothing was imported; report the file's layout to the connector's maintainers"
            )
        elif part is not None and part in self.handlers:
            self.handlers[part](element)

    def _list(self, element: Any) -> None:
        self.located.add(element.tag.removesuffix("_LIST"))

    def _glossary(self, element: Any) -> None:
        cells = cells_of(element)
        qid = cells.get("QID")
        if qid:
            self.glossary[qid] = cells
        _release(element)

    def _name(self, part: Part, element: Any) -> None:
        code, name = element.findtext("CODE"), element.findtext("NAME")
        if code and name:
            self.names[part][code.strip()] = name.strip()

    def _scan(self, element: Any) -> None:
        end = parse_report_date(element.findtext("END_DATE")) or parse_report_date(
            element.findtext("START_DATE")
        )
        if end is not None:
            self.scan_ends.append(end)

    def _summary(self, element: Any) -> None:
        self.declared = {
            child.tag: int(text)
            for child in element
            if child.tag in _SUMMARY_TYPES and (text := (child.text or "").strip()).isdigit()
        }

    def _generated(self, element: Any) -> None:
        self.generated = parse_report_date(element.text)

    def _filter(self, element: Any) -> None:
        name, value = element.findtext("NAME"), element.findtext("VALUE")
        self.filters.append(f"{(name or '').strip()}: {(value or '').strip()}")

    def facts(self, checksum: str) -> ReportFacts:
        if self.root is None:
            raise ImportFileError(f"{self.path}: the XML holds no Qualys WAS report element")
        if sum(self.found.values()) and not self.glossary:
            raise ImportFileError(
                f"{self.path}: the report has RESULTS but no GLOSSARY/QID_LIST: the file looks "
                "truncated; export the report again"
            )
        return ReportFacts(
            checksum=checksum,
            kind=self.root,
            layouts=tuple(sorted(self.layouts)),
            report_date=max(self.scan_ends) if self.scan_ends else self.generated,
            webapps=_merge_webapps(self.appendix, self.results_apps),
            glossary=self.glossary,
            owasp_names=self.names[Part.OWASP],
            wasc_names=self.names[Part.WASC],
            declared=self.declared,
            found=dict(self.found),
            located=frozenset(self.located | set(self.found)),
            filters=tuple(self.filters),
            identity="Detection ID",
            raw_rows=self.raw_rows,
        )


def read_facts(
    path: Path,
    *,
    encoding: str | None,
    progress: Progress | None = None,
    qid_element: str = "QID",
) -> ReportFacts:
    """Pass 1: everything but the results; refuses a result at a path the table does not know.
    Keeps a RawRow of each result."""
    collector = _Facts(path, qid_element)
    for event, element in _stream(path, encoding, progress):
        if event == "hash":
            return collector.facts(element)
        collector.element(element)
    raise AssertionError("unreachable: _stream ends with the file's hash")  # pragma: no cover


def _webapp(element: Any) -> WebApp:
    def text(name: str) -> str | None:
        value = element.findtext(name)
        return value.strip() or None if value else None

    return WebApp(id=text("ID"), name=text("NAME"), url=text("URL"))


def _merge_webapps(appendix: list[WebApp], results: list[WebApp]) -> tuple[WebApp, ...]:
    """The appendix's web applications, plus any the results name that the appendix lacks. One
    of each is one web application, even when the two disagree on its ID or name."""
    if len(appendix) == 1 and len(results) == 1:
        only, named = appendix[0], results[0]
        aliases = tuple(a for a in (named.id, named.name) if a and a not in (only.id, only.name))
        return (dataclasses.replace(only, url=only.url or named.url, aliases=aliases),)
    apps = list(appendix)
    for app in results:
        twin = next(
            (a for a in apps if (app.id and a.id == app.id) or (app.name and a.name == app.name)),
            None,
        )
        if twin is None:
            apps.append(app)
        elif twin.url is None and app.url:
            apps[apps.index(twin)] = WebApp(twin.id, twin.name, app.url)
    return tuple(apps)


def iter_rows(
    path: Path, *, encoding: str | None, progress: Progress | None = None
) -> Iterator[ReportRow]:
    """Pass 2: each result, flattened with its evidence decoded; stops at the end of RESULTS."""
    for event, element in _stream(path, encoding, progress, tags=_ROW_TAGS):
        if event == "hash":
            return
        where = _path(element)
        part = PATHS.get(where)
        if part is Part.RESULTS:
            return
        if part is not Part.RESULT:
            continue
        webapp = _webapp_of(element) if len(where) == 4 else None
        yield _row(element, webapp)
        _release(element)


def _webapp_of(element: Any) -> str | None:
    """RESULTS/WEB_APPLICATION/<TYPE>_LIST/<TYPE>: the ID (or NAME) of its web application."""
    holder = element.getparent().getparent()
    return (holder.findtext("ID") or holder.findtext("NAME") or "").strip() or None


def _row(element: Any, webapp: str | None) -> ReportRow:
    cells: dict[str, str] = {}
    payloads: tuple[Payload, ...] = ()
    results = None
    for child in element:
        tag = child.tag
        if tag == "PAYLOADS":
            payloads = _payloads(child)
        elif tag == "DATA":
            results = _text(child)
        else:
            _put(cells, child, "")
    return ReportRow(
        line_no=element.sourceline or 0,
        table=element.tag,
        cells=cells,
        payloads=payloads,
        results=results,
        webapp=webapp,
        digest=_digest(element),
    )


def _digest(element: Any) -> bytes:
    """A digest of a result's raw tags and texts (cheaper than serialising it again)."""
    parts: list[str] = []
    for node in element.iter():
        parts.append(node.tag if isinstance(node.tag, str) else "#")
        parts.append(node.text or "")
    return blake2b(
        "\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=RAW_DIGEST_BYTES
    ).digest()
