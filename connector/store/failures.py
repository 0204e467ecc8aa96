"""SQLAlchemy exceptions translated, at the store's edge, into the connector's StoreError tree.

A statement that fails is translated where it runs (`reading`, `writing`: they name what was being
read or written). A COMMIT that fails (a disk that fills up as the transaction is written out, a
PostgreSQL server stopped under the connector) is translated for every engine by
`commit_failure`, hooked on the engine in `database.py`. Every message carries the driver's own
words plus, where the driver's code says what happened, what to do about it (`HINTS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from connector.errors import StoreError, StoreWriteError

_READ_ONLY = (
    "the database file or its directory is read-only for this user: make both writable (file "
    "permissions, owner, or a read-only mount)"
)

# SQLite error name (Python's `sqlite_errorname`) or PostgreSQL SQLSTATE -> what to do.
HINTS: dict[str, str] = {
    "SQLITE_FULL": "the disk holding the database is full: free space there, then run again",
    "SQLITE_READONLY": _READ_ONLY,
    "SQLITE_CANTOPEN": "check that the database path exists and its directory is writable",
    "SQLITE_IOERR": "the disk or file system holding the database failed: check it",
    "SQLITE_BUSY": "another process holds a write transaction on the database file",
    "53100": "the PostgreSQL server's disk is full: free space there, then run again",
    "25006": "the PostgreSQL database is read-only (a standby, or default_transaction_read_only)",
    "42501": "the database user may not write these tables: grant it INSERT, UPDATE and DELETE "
    "on the connector's tables (or use the user that ran the migrations)",
    "57P01": "the PostgreSQL server ended the session: it was stopped or restarted, or an "
    "administrator terminated it; run again once it is back",
    "57P02": "the PostgreSQL server crashed: run again once it is back",
    "57P03": "the PostgreSQL server is starting up or shutting down: run again shortly",
}
_CONNECTION_LOST = (
    "the connection to the database was lost: the server stopped or restarted, or the network "
    "dropped; run again once it is back"
)


def db_reason(exc: BaseException) -> str:
    """The first line of the driver's message, without SQL or parameters, plus what to do."""
    orig: Any = getattr(exc, "orig", None)
    driver = orig if orig is not None else exc
    text = str(driver).strip()
    reason = text.splitlines()[0] if text else type(driver).__name__
    hint = _hint(driver) or (_CONNECTION_LOST if getattr(exc, "connection_invalidated", 0) else "")
    return f"{reason}; {hint}" if hint and hint not in reason else reason


def _hint(driver_error: Any) -> str | None:
    name = getattr(driver_error, "sqlite_errorname", None)
    if isinstance(name, str):  # SQLITE_READONLY_DIRECTORY -> SQLITE_READONLY
        return HINTS.get(name) or HINTS.get("_".join(name.split("_")[:2]))
    sqlstate = getattr(driver_error, "sqlstate", None)
    return HINTS.get(sqlstate) if isinstance(sqlstate, str) else None


class CommitFailedError(StoreWriteError, SQLAlchemyError):
    """The database refused to commit a transaction; nothing of it is stored.

    A StoreWriteError for the user (one line, exit 1), and still a SQLAlchemyError, so that code
    which rides out database trouble around a transaction (the sync lock's heartbeat, its release)
    keeps doing so."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def commit_failure(where: str, exc: BaseException, *, connection_lost: bool) -> CommitFailedError:
    """The error for a COMMIT on `where` (a redacted URL) that failed with `exc`."""
    if connection_lost:  # the server may or may not have committed before the line dropped
        return CommitFailedError(
            f"the connection to the database {where} broke while committing: {db_reason(exc)} "
            "(the transaction's changes may not be stored)"
        )
    return CommitFailedError(
        f"the database {where} refused to commit: {db_reason(exc)} (the transaction's changes "
        "were rolled back)"
    )


@contextmanager
def reading(what: str) -> Iterator[None]:
    """A failed read becomes StoreError("<what>: <the driver's reason>")."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {db_reason(exc)}") from exc


@contextmanager
def writing(what: str) -> Iterator[None]:
    """A failed write becomes StoreWriteError("<what>: <the driver's reason>")."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreWriteError(f"{what}: {db_reason(exc)}") from exc
