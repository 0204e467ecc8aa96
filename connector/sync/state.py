"""What every phase of one sync is handed: its collaborators, its settings and its identity."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Engine

from connector.config import Config
from connector.errors import SyncInterruptedError
from connector.models import SyncMode
from connector.qualys.client import QualysClient
from connector.store.failures import writing
from connector.store.lock import ensure_lock_held


class SyncProgress(Protocol):
    """What a sync reports while it runs; the CLI draws bars, the daemon logs lines."""

    def start(self, phase: str, total: int | None) -> None: ...

    def advance(self, phase: str, amount: int) -> None: ...


class NoProgress:
    def start(self, phase: str, total: int | None) -> None:
        pass

    def advance(self, phase: str, amount: int) -> None:
        pass


@dataclass(frozen=True)
class RunState:
    """One sync's context. Phases read it and never change it; what they learn they return.

    `kb_cvss` (QID -> the KB's CVSS v3 base score, None for QIDs the KB lacks) is the one shared
    table: the knowledge-base phase fills it while the listing maps pages with it."""

    config: Config
    engine: Engine
    client: QualysClient
    clock: Callable[[], datetime]
    stop: threading.Event
    progress: SyncProgress
    run_id: int
    mode: SyncMode
    kb_cvss: dict[int, float | None]
    deadline: float  # time.monotonic() after which a listing gives up

    @property
    def connector(self) -> str:
        return self.config.connector_name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction of this sync; a database failure in it (a server restarted, a disk
        full) ends the sync as one StoreWriteError line instead of a driver traceback."""
        with writing("storing the sync's results"), self.engine.begin() as conn:
            yield conn

    def check_stop(self) -> None:
        """Between pages: stop on a shutdown request, or when the sync lock was lost."""
        if self.stop.is_set():
            raise SyncInterruptedError("sync interrupted by a shutdown request; nothing was closed")
        ensure_lock_held(self.engine, self.connector)

    def past_deadline(self) -> bool:
        return time.monotonic() > self.deadline
