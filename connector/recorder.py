"""The run record: one sync_runs row per sync or import, written at the start and at the end."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from connector.errors import ConnectorError
from connector.models import RunKind, RunOutcome
from connector.store import runs as store_runs

log = logging.getLogger(__name__)


class RunRecorder:
    """Records one run of `kind`; `host` and `pid` name the process that ran it."""

    def __init__(
        self,
        engine: Engine,
        connector: str,
        kind: RunKind,
        *,
        clock: Callable[[], datetime],
        host: str,
        pid: int,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.kind = kind
        self.clock = clock
        self.host = host
        self.pid = pid
        self.run_id = 0

    def start(self, conn: Connection, *, mode: str | None = None) -> int:
        """Record the run as running (in the caller's transaction); returns its id."""
        self.run_id = store_runs.start_run(
            conn,
            self.connector,
            self.kind,
            now=self.clock(),
            host=self.host,
            pid=self.pid,
            mode=mode,
        )
        return self.run_id

    def finish(
        self,
        conn: Connection,
        outcome: RunOutcome,
        counts: Mapping[str, Any],
        *,
        api_calls: int = 0,
        retries: int = 0,
        error: str | None = None,
    ) -> None:
        """Record how the run ended, in the caller's transaction."""
        store_runs.finish_run(
            conn,
            self.run_id,
            outcome=outcome,
            now=self.clock(),
            counts=counts,
            api_calls=api_calls,
            retries=retries,
            error=error,
        )

    def finish_apart(
        self,
        outcome: RunOutcome,
        counts: Mapping[str, Any],
        *,
        api_calls: int = 0,
        retries: int = 0,
        error: str | None = None,
    ) -> None:
        """Record a failed run's end in a transaction of its own; a store that fails here (it
        may be why the run failed) is logged, not raised over the run's own error."""
        try:
            with self.engine.begin() as conn:
                self.finish(
                    conn, outcome, counts, api_calls=api_calls, retries=retries, error=error
                )
        except ConnectorError:
            log.exception("could not record the end of run %d", self.run_id)
