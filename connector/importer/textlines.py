"""Decoded text lines of a file, streamed, with the byte offset and line of any decoding error.

Reads the file as bytes one physical line at a time (a line longer than `max_line_bytes` is an
error, so one huge cell cannot exhaust memory), decodes with an incremental decoder, and hashes
every byte read (sha256) so the caller gets the file's checksum from the same read.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from connector.errors import ImportFileError

DEFAULT_ENCODING = "utf-8-sig"
MAX_LINE_BYTES = 64 * 1024 * 1024


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; an unknown encoding is an ImportFileError naming it."""
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ImportFileError(
            f"unknown encoding {encoding!r}: use a Python codec name such as utf-8 or latin-1"
        ) from exc


class TextLines:
    """Iterate the decoded lines of `path`; `line_no`, `bytes_read` and `sha256` follow along."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str = DEFAULT_ENCODING,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = path
        self.encoding = check_encoding(encoding)
        self.max_line_bytes = max_line_bytes
        self.line_no = 0
        self.bytes_read = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes read so far (the whole file once iteration has finished)."""
        return self._hash.hexdigest()

    def __iter__(self) -> Iterator[str]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"{self.path}: cannot be read ({exc.strerror})") from exc
        with handle:
            yield from self._lines(handle)

    def _lines(self, handle: BinaryIO) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        while True:
            try:
                raw = handle.readline(self.max_line_bytes + 1)
            except OSError as exc:
                raise ImportFileError(f"{self.path}: read failed ({exc.strerror})") from exc
            if len(raw) > self.max_line_bytes:
                raise ImportFileError(
                    f"{self.path}: line {self.line_no + 1}: a line is longer than "
                    f"{self.max_line_bytes} bytes: this is not a scan report a person exported; "
                    "split the file or check that it is the right one"
                )
            self._hash.update(raw)
            final = not raw
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                offset = self.bytes_read + max(exc.start, 0)
                raise ImportFileError(
                    f"{self.path}: line {self.line_no + 1}, byte offset {offset}: "
                    f"not valid {self.encoding} ({exc.reason}): "
                    "give the file's encoding with --encoding (e.g. --encoding latin-1)"
                ) from exc
            self.bytes_read += len(raw)
            if final:
                if text:
                    yield text
                return
            self.line_no += 1
            yield text
