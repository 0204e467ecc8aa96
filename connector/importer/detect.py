"""What kind of file an import was given, from its first bytes: format, text encoding, or a refusal.

Refused here, before any parser sees the file: an empty file, a compressed one (zip, gzip, bzip2,
xz, 7z: "unpack it first"), an XML document that declares a DOCTYPE (so no entity is ever
declared), an XML document that is not a Qualys WAS report. The encoding comes from `--encoding`,
else the byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-8.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ImportFileError
from connector.importer import csvreport
from connector.importer.csvrows import csv_records
from connector.importer.layouts import ROOTS
from connector.importer.mapping import ImportFormat
from connector.importer.textlines import DEFAULT_ENCODING, TextFile, check_encoding

HEAD_BYTES = 64 * 1024
COMPRESSED = {
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# The prolog before the root element: declaration, comments, processing instructions, space.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*)")


@dataclass(frozen=True)
class Detected:
    format: ImportFormat
    encoding: str  # a codec name for the text; for XML the parser reads the declaration
    xml_root: str | None = None


def sniff_encoding(head: bytes, given: str | None) -> str:
    """The encoding to read with: the one given, else the BOM's, else UTF-8 (BOM tolerated)."""
    if given:
        check_encoding(given)
        return given
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    return DEFAULT_ENCODING


def detect(path: Path, *, encoding: str | None) -> Detected:
    """The file's format and encoding; ImportFileError naming the problem when it is refused."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not head.strip():
        raise ImportFileError(f"{path}: the file is empty: nothing to import")
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise ImportFileError(
                f"{path}: this is a compressed file ({kind}): unpack it first and import the "
                "report inside it"
            )
    chosen = sniff_encoding(head, encoding)
    text = head.decode(check_encoding(chosen), errors="replace").lstrip("\ufeff")
    if text.lstrip().startswith("<"):
        return Detected(ImportFormat.QUALYS_WAS_XML, chosen, _xml_root(path, text))
    first = next(iter(csv_records(TextFile(path, encoding=chosen))), None)
    if first is not None and csvreport.looks_like_report(first.cells):
        return Detected(ImportFormat.QUALYS_WAS_CSV, chosen)
    return Detected(ImportFormat.FLAT_CSV, chosen)


def _xml_root(path: Path, text: str) -> str:
    position = 0
    while match := _PROLOG.match(text, position):
        position = match.end()
    rest = text[position:].lstrip()
    if rest.startswith("<!DOCTYPE"):
        raise ImportFileError(
            f"{path}: the XML declares a DOCTYPE; Qualys reports have none and DTD entities are "
            "refused for safety: export the report from Qualys again"
        )
    root = _ROOT.match(rest)
    if root is None:
        raise ImportFileError(
            f"{path}: no XML root element in the first {HEAD_BYTES // 1024} KB: "
            "check that the file is a Qualys WAS XML report"
        )
    if root[1] not in ROOTS:
        raise ImportFileError(
            f"{path}: an XML file that is not a Qualys WAS report (its root is <{root[1]}>, "
            f"not <{ROOTS[0]}> or <{ROOTS[1]}>): export the report as XML or CSV from Qualys WAS"
        )
    return root[1]
