"""An export file appears whole or not at all: written under a temporary name beside the target,
flushed to disk, then renamed over it. A failure part-way (disk full, a database error) removes
the temporary file and leaves any earlier file at the target untouched."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from connector.errors import ConnectorError


@contextmanager
def whole_file(path: Path) -> Iterator[TextIO]:
    """A text stream whose content becomes `path` only if the block ends without an error."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise ConnectorError(f"cannot write {path}: {exc.strerror or exc}") from exc
    temporary = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from its readers
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConnectorError(
            f"cannot write {path}: {exc.strerror or exc}; nothing was written there"
        ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
