"""The real report fixtures rewritten by the tests themselves: the nested (WAS API 3.13+) layout,
a WAS_WEBAPP_REPORT, several web applications in one report, and other edits, with ElementTree
(independent of the importer's own reader)."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

RESULT_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT", "INFORMATION_GATHERED")


def parse(path: Path) -> ET.ElementTree:
    return ET.parse(path)


def write(tree: ET.ElementTree | ET.Element, path: Path) -> Path:
    root = tree.getroot() if isinstance(tree, ET.ElementTree) else tree
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path


def nest(root: ET.Element) -> ET.Element:
    """RESULTS/<TYPE>_LIST -> RESULTS/WEB_APPLICATION/<TYPE>_LIST; APPENDIX/WEBAPP ->
    APPENDIX/WEB_APPLICATION (as WAS API 3.13 and later export them)."""
    root = copy.deepcopy(root)
    results = root.find("RESULTS")
    appendix = root.find("APPENDIX")
    assert results is not None and appendix is not None
    webapp = appendix.find("WEBAPP")
    assert webapp is not None
    holder = ET.Element("WEB_APPLICATION")
    for name in ("ID", "NAME"):
        child = ET.SubElement(holder, name)
        child.text = webapp.findtext(name)
    for lst in list(results):
        results.remove(lst)
        holder.append(lst)
    results.append(holder)
    webapp.tag = "WEB_APPLICATION"
    return root


def as_webapp_report(root: ET.Element) -> ET.Element:
    """A WAS_WEBAPP_REPORT: the nested layout under its own root, FIRST_TIME_DETECTED and
    LAST_TIME_DETECTED where a scan report has DETECTION_DATE (information-gathered rows keep
    only LAST_TIME_DETECTED)."""
    root = nest(root)
    root.tag = "WAS_WEBAPP_REPORT"
    for kind in RESULT_TYPES:
        for record in root.iterfind(f"RESULTS/WEB_APPLICATION/{kind}_LIST/{kind}"):
            detected = record.find("DETECTION_DATE")
            if detected is None:
                continue
            index = list(record).index(detected)
            record.remove(detected)
            for offset, name in enumerate(("FIRST_TIME_DETECTED", "LAST_TIME_DETECTED")):
                element = ET.Element(name)
                element.text = detected.text
                record.insert(index + offset, element)
    return root


def combine(first: ET.Element, second: ET.Element) -> ET.Element:
    """One nested report holding both reports' web applications, results and glossaries."""
    root = nest(first)
    other = nest(second)
    results, glossary, appendix = (
        root.find(n) for n in ("RESULTS", "GLOSSARY/QID_LIST", "APPENDIX")
    )
    assert results is not None and glossary is not None and appendix is not None
    results.extend(other.iterfind("RESULTS/WEB_APPLICATION"))
    known = {q.findtext("QID") for q in glossary}
    glossary.extend(
        q for q in other.iterfind("GLOSSARY/QID_LIST/QID") if q.findtext("QID") not in known
    )
    appendix.extend(other.iterfind("APPENDIX/WEB_APPLICATION"))
    summary = root.find("SUMMARY/GLOBAL_SUMMARY")
    assert summary is not None
    for kind in RESULT_TYPES:
        element = summary.find(kind)
        if element is not None:
            element.text = str(
                sum(1 for _ in root.iterfind(f"RESULTS/WEB_APPLICATION/{kind}_LIST/{kind}"))
            )
    return root


def records(root: ET.Element) -> Iterable[ET.Element]:
    for kind in RESULT_TYPES:
        yield from root.iterfind(f"RESULTS/{kind}_LIST/{kind}")
        yield from root.iterfind(f"RESULTS/WEB_APPLICATION/{kind}_LIST/{kind}")


def shift_dates(root: ET.Element, old: str, new: str) -> ET.Element:
    """Every date text `old` (e.g. '11 Mar 2020') replaced by `new` (a later scan)."""
    root = copy.deepcopy(root)
    for element in root.iter():
        if element.text and old in element.text and re.search(r"\d\d:\d\d[AP]M", element.text):
            element.text = element.text.replace(old, new)
    return root


def drop_records(root: ET.Element, keep: Callable[[ET.Element], bool]) -> ET.Element:
    """Remove the result records `keep` says no to, and make the SUMMARY agree."""
    root = copy.deepcopy(root)
    for parent in root.iter():
        for child in list(parent):
            if child.tag in RESULT_TYPES and len(child) and not keep(child):
                parent.remove(child)
    summary = root.find("SUMMARY/GLOBAL_SUMMARY")
    if summary is not None:
        for kind in RESULT_TYPES:
            element = summary.find(kind)
            if element is not None:
                element.text = str(sum(1 for r in records(root) if r.tag == kind))
    return root
