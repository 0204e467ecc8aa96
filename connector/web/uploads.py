"""Uploaded scan files waiting to be imported: streamed to a private temporary directory with a
size cap, kept per session between the import steps, removed after the import or when stale."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

CHUNK = 1024 * 1024
KEEP_FOR = timedelta(hours=2)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadTooLargeError(Exception):
    """The file is larger than [web] upload_max_mb."""


@dataclass
class PendingUpload:
    token: str
    owner: str  # the session id that uploaded it
    path: Path  # the file, under its own (cleaned) name: the import records that name
    size: int
    created_at: datetime
    draft: Any = None  # the import flow's mapping draft between its steps


def safe_name(name: str | None) -> str:
    """The file's base name with anything but letters, digits and ._- replaced (never a path)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:120]
    return cleaned or "upload.csv"


@dataclass
class UploadStore:
    max_bytes: int
    clock: Callable[[], datetime]
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="connector-web-")))
    _pending: dict[str, PendingUpload] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def save(self, upload: UploadFile, owner: str) -> PendingUpload:
        """Copy the upload in chunks to its own directory; refuses files over the cap."""
        self._expire()
        token = secrets.token_urlsafe(16)
        folder = self.root / token
        folder.mkdir(mode=0o700)
        path = folder / safe_name(upload.filename)
        try:
            size = await self._copy(upload, path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        pending = PendingUpload(token, owner, path, size, self.clock())
        with self._lock:
            self._pending[token] = pending
        return pending

    async def _copy(self, upload: UploadFile, path: Path) -> int:
        size = 0
        with path.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise UploadTooLargeError
                await run_in_threadpool(_write, out, chunk)
        return size

    def get(self, token: str, owner: str) -> PendingUpload | None:
        with self._lock:
            pending = self._pending.get(token)
        if pending is None or not secrets.compare_digest(pending.owner, owner):
            return None
        return pending

    def discard(self, token: str) -> None:
        with self._lock:
            pending = self._pending.pop(token, None)
        if pending is not None:
            shutil.rmtree(pending.path.parent, ignore_errors=True)

    def discard_owner(self, owner: str) -> None:
        with self._lock:
            tokens = [t for t, p in self._pending.items() if p.owner == owner]
        for token in tokens:
            self.discard(token)

    def close(self) -> None:
        with self._lock:
            self._pending.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _expire(self) -> None:
        cutoff = self.clock() - KEEP_FOR
        with self._lock:
            stale = [t for t, p in self._pending.items() if p.created_at < cutoff]
        for token in stale:
            self.discard(token)


def _write(out: BinaryIO, chunk: bytes) -> None:
    out.write(chunk)
