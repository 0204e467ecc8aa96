"""Waiting for another process's SQLite write transaction: bounded, and said in the log.

SQLite lets one writer at a time hold a database file. An import of a large report holds it for
its whole (single) transaction, and a sync started meanwhile would fail with "database is locked"
once SQLite's busy timeout ran out, after waiting in silence. Instead, every statement that would
begin a transaction is retried while the file is locked by another writer, up to `limit_seconds`
in all; the first wait and every minute of it are logged, and past the limit the statement fails
with `WriterWaitTimeout`, whose message says what happened.

Only a statement run outside a transaction is retried: it has done nothing yet, so running it
again is exactly safe (pysqlite opens the transaction just before the first write, so a write
transaction's first statement is the one that meets the other writer's lock; in WAL mode, later
statements of a transaction that holds the lock never meet it).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# How long SQLite's own busy handler waits inside one attempt, at most. Short waits (another
# sync's page, a heartbeat) are absorbed there, unlogged; a longer one shows in the log.
BUSY_SLICE_SECONDS = 1.0
NOTE_EVERY_SECONDS = 60.0


class WriterWaitTimeout(sqlite3.OperationalError):
    """The database stayed locked by another writer for longer than the wait allows.

    A DB-API error, so SQLAlchemy wraps it like any driver error and the store's translation
    (`db_reason`) shows its message."""


def busy_slice_ms(limit_seconds: float) -> int:
    """The busy_timeout PRAGMA for one attempt: a slice of the whole wait."""
    return max(1, int(1000 * min(BUSY_SLICE_SECONDS, limit_seconds / 4)))


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(exc)


@dataclass(frozen=True)
class WriterWait:
    """The waiting policy for one SQLite database file."""

    database: str  # the file, for the messages
    limit_seconds: float
    clock: Callable[[], float] = time.monotonic

    def run(self, cursor: Any, execute: Callable[[], object]) -> None:
        """Run `execute` (one statement on `cursor`), waiting out another writer's lock."""
        if cursor.connection.in_transaction:
            execute()
            return
        started: float | None = None
        noted = 0.0
        while True:
            try:
                execute()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = self.clock()
                if started is None:
                    started = now - busy_slice_ms(self.limit_seconds) / 1000
                    log.warning(
                        "the SQLite database %s is locked by another process's write transaction "
                        "(an import?): waiting up to %g s for it to end",
                        self.database,
                        self.limit_seconds,
                    )
                waited = now - started
                if waited >= self.limit_seconds:
                    raise WriterWaitTimeout(self._timeout_message(waited)) from exc
                if waited - noted >= NOTE_EVERY_SECONDS:
                    noted = waited
                    log.warning(
                        "still waiting for the SQLite database %s (%.0f s of %g s)",
                        self.database,
                        waited,
                        self.limit_seconds,
                    )
                continue
            if started is not None:
                log.info(
                    "the SQLite database %s is free again after %.1f s: carrying on",
                    self.database,
                    self.clock() - started,
                )
            return

    def _timeout_message(self, waited: float) -> str:
        return (
            f"the SQLite database {self.database} stayed locked by another process's write "
            f"transaction for {waited:.1f} s (an import of a large report, or a stalled "
            f"process?), the longest a write waits ({self.limit_seconds:g} s); nothing of this "
            "step was written: run again once that process has finished"
        )
