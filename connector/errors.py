"""The connector's exceptions: one root, named for what the caller does about them.

    ConnectorError                  anything a user may see; `str(exc)` is the one-line message
    ├── ConfigError                 fix the configuration file or environment      (exit 2)
    ├── QualysError                 talking to Qualys went wrong
    │   ├── QualysAuthError         credentials refused or not permitted; never retried (exit 3)
    │   ├── QualysUnreachableError  DNS, TLS, proxy, timeout, or retries exhausted  (exit 3 / 1)
    │   ├── QualysRequestError      Qualys rejected what we asked (a bug or a bad filter)
    │   └── QualysResponseError     the answer made no sense (bad XML, a paging loop)
    │       └── ListingIncompleteError  a listing could not be proven complete: nothing closed
    ├── StoreError                  the database
    │   ├── SchemaMismatchError     the schema is newer than this code, or not migrated
    │   ├── StoreWriteError         a record could not be written (names the record)
    │   └── SyncLockLostError       the sync lock vanished mid-sync; stop, the next sync resumes
    ├── ImportFileError             a scan file is unreadable or does not fit its mapping
    ├── SyncAlreadyRunningError     another process holds this connector's sync lock (exit 4)
    └── SyncInterruptedError        a shutdown was requested part-way through a sync

Third-party exceptions (httpx, sqlalchemy, csv, expat) are translated into these at the adapter
that meets them, with `raise ... from exc`, so nothing above the adapters needs to know them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    FAILED = 1
    CONFIG = 2
    QUALYS_REFUSED = 3
    ALREADY_RUNNING = 4
    MISMATCH = 5


class ConnectorError(Exception):
    """Root of every error the connector reports to a user.

    `transient`: the failure may pass by itself (Qualys unreachable, the database briefly down,
    a listing cut short), so a failed sync is worth one more try soon; decided here, per class."""

    exit_code: ExitCode = ExitCode.FAILED
    transient: bool = False


def is_transient(exc: BaseException) -> bool:
    """Whether a failure may pass by itself (see ConnectorError.transient)."""
    return isinstance(exc, ConnectorError) and exc.transient


class ConfigError(ConnectorError):
    """The configuration is invalid; `problems` lists every problem found."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


class QualysError(ConnectorError):
    """Talking to Qualys failed."""


class QualysAuthError(QualysError):
    """Qualys refused the credentials or the user lacks a permission. Never retried."""

    exit_code = ExitCode.QUALYS_REFUSED


class QualysUnreachableError(QualysError):
    """Qualys could not be reached, or kept failing transiently until retries ran out."""

    exit_code = ExitCode.QUALYS_REFUSED
    transient = True


class QualysRequestError(QualysError):
    """Qualys rejected the request itself (INVALID_REQUEST, SIMPLE_RETURN 1905, HTTP 400...)."""


class QualysResponseError(QualysError):
    """Qualys answered with something the connector cannot use."""


class ListingIncompleteError(QualysResponseError):
    """Qualys listed fewer findings than it counts (a listing cut short, pages that never end):
    what arrived is stored, nothing is closed or archived, the sync fails."""

    transient = True


class StoreError(ConnectorError):
    """The database failed."""

    transient = True  # unless a subclass says otherwise


class SchemaMismatchError(StoreError):
    """The database schema does not match this version of the connector."""

    transient = False


class StoreWriteError(StoreError):
    """A record could not be written; the message names it."""

    transient = False


class SyncLockLostError(StoreError):
    """This process no longer holds the sync lock it started with; it must stop syncing."""


class ImportFileError(ConnectorError):
    """A scan file could not be imported; the message names the file, line and column."""


class SyncAlreadyRunningError(ConnectorError):
    """Another process is syncing this connector right now."""

    exit_code = ExitCode.ALREADY_RUNNING


class SyncInterruptedError(ConnectorError):
    """A shutdown was requested while a sync was running."""
