"""A file's bytes and decoded text, streamed: hashed, counted for progress, and guarded.

One read of the file gives its sha256 (the import's checksum), the bytes read so far (for the
progress bar), and refuses what no scan report holds before it reaches a parser: NUL bytes in a
byte-oriented encoding, and a line longer than `max_line_bytes` (so one huge cell cannot exhaust
memory). The text side is an `io.TextIOWrapper`, so lines are split and decoded in C.
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from connector.errors import ImportFileError

DEFAULT_ENCODING = "utf-8-sig"
MAX_LINE_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024
# Encodings whose text holds NUL bytes by design; for every other one a NUL means "not text".
_WIDE = ("utf-16", "utf-32")

Progress = Callable[[int], None]  # called with the bytes read so far


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; an unknown encoding is an ImportFileError naming it."""
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ImportFileError(
            f"unknown encoding {encoding!r}: use a Python codec name such as utf-8 or latin-1"
        ) from exc


def is_wide(encoding: str) -> bool:
    return check_encoding(encoding).startswith(_WIDE)


class GuardedReader(io.RawIOBase):
    """The file's bytes for a parser: hashed, counted, and refused on NUL bytes or huge lines."""

    def __init__(
        self,
        path: Path,
        handle: BinaryIO,
        *,
        allow_nul: bool,
        max_line_bytes: int = MAX_LINE_BYTES,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self._handle = handle
        self._allow_nul = allow_nul
        self._max_line = max_line_bytes
        self._progress = progress
        self._run = 0  # bytes since the last newline
        self._lines = 0  # newlines before this chunk
        self.bytes_read = 0
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        super().close()
        self._handle.close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            n: int = self._handle.readinto(buffer)  # type: ignore[attr-defined]
        except OSError as exc:
            raise ImportFileError(f"{self.path}: read failed ({exc.strerror})") from exc
        if not n:
            return 0
        data = bytes(buffer[:n])
        self._check(data)
        self.hash.update(data)
        self.bytes_read += n
        if self._progress is not None:
            self._progress(self.bytes_read)
        return n

    def read(self, size: int = -1) -> bytes:
        """For parsers that read() (lxml): at most `size` bytes (a chunk when size < 0)."""
        buffer = bytearray(CHUNK if size is None or size < 0 else size)
        n = self.readinto(memoryview(buffer))
        return bytes(buffer[:n])

    def _check(self, data: bytes) -> None:
        if not self._allow_nul and b"\x00" in data:
            at = data.index(b"\x00")
            line = self._lines + data.count(b"\n", 0, at) + 1
            raise ImportFileError(
                f"{self.path}: line {line}, byte offset {self.bytes_read + at}: the file "
                "contains NUL bytes, which no text export holds: check that it is the report "
                "Qualys exported (a UTF-16 file needs --encoding utf-16)"
            )
        newline = data.rfind(b"\n")
        if self._run + len(data) > self._max_line and (
            newline < 0 or max(self._run + data.find(b"\n"), _longest_line(data)) > self._max_line
        ):
            raise ImportFileError(
                f"{self.path}: line {self._long_line(data)}: a line is longer than "
                f"{self._max_line} bytes: this is not a scan report a person exported; "
                "check that it is the right file"
            )
        self._run = self._run + len(data) if newline < 0 else len(data) - newline - 1
        self._lines += data.count(b"\n")

    def _long_line(self, data: bytes) -> int:
        """The line number of the first line of `data` (the run before it included) that is
        too long (the error path only)."""
        line, run = self._lines + 1, self._run
        for part in data.split(b"\n"):
            if run + len(part) > self._max_line:
                return line
            line, run = line + 1, 0
        return line

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()


def _longest_line(data: bytes) -> int:
    """The longest run between newlines inside `data` (cheap: only when a chunk is long)."""
    return max(len(part) for part in data.split(b"\n")[1:-1]) if data.count(b"\n") > 1 else 0


class TextFile:
    """Iterate the decoded lines of `path` (universal newlines left to csv); `sha256` and
    `bytes_read` follow along, `line_no` is the physical lines handed out so far."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str = DEFAULT_ENCODING,
        max_line_bytes: int = MAX_LINE_BYTES,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.encoding = check_encoding(encoding)
        self.max_line_bytes = max_line_bytes
        self.progress = progress
        self._reader: GuardedReader | None = None

    @property
    def sha256(self) -> str:
        return self._reader.sha256 if self._reader is not None else ""

    @property
    def bytes_read(self) -> int:
        return self._reader.bytes_read if self._reader is not None else 0

    def open(self) -> Iterator[str] | io.TextIOWrapper:
        """The file's lines, to iterate once and then close (closing `opened`). For a
        byte-oriented encoding, the TextIOWrapper itself: its lines come from C."""
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"{self.path}: cannot be read ({exc.strerror})") from exc
        wide = self.encoding.startswith(_WIDE)
        self._reader = GuardedReader(
            self.path,
            handle,
            allow_nul=wide,
            max_line_bytes=self.max_line_bytes * (4 if wide else 1),
            progress=self.progress,
        )
        buffered = io.BufferedReader(self._reader, buffer_size=CHUNK)
        self.opened = io.TextIOWrapper(
            buffered, encoding=self.encoding, errors="strict", newline=""
        )
        return self._without_nul(self.opened) if wide else self.opened

    def _without_nul(self, text: io.TextIOWrapper) -> Iterator[str]:
        """NUL bytes are normal in UTF-16: a NUL *character* is not."""
        for line in text:
            if "\x00" in line:
                raise ImportFileError(
                    f"{self.path}: the text contains NUL characters, which no report holds: "
                    "check that it is the report Qualys exported"
                )
            yield line

    def close(self) -> None:
        opened = getattr(self, "opened", None)
        if opened is not None:
            opened.close()

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self.open()
        finally:
            self.close()


def locate_decode_error(path: Path, encoding: str) -> tuple[int, int, str]:
    """(line, byte offset, reason) of the first bytes of `path` that `encoding` cannot decode
    (read again only when decoding failed, so the message can name the exact place)."""
    decoder = codecs.getincrementaldecoder(check_encoding(encoding))(errors="strict")
    offset = line = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            pending = len(decoder.getstate()[0])  # bytes of the last chunk still undecoded
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = max(offset + max(exc.start, 0) - pending, offset - pending)
                return line + chunk.count(b"\n", 0, at - offset) + 1, at, exc.reason
            offset += len(chunk)
            line += chunk.count(b"\n")
    return line + 1, offset, "truncated multi-byte character at the end"
