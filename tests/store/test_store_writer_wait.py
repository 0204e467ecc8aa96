"""Two processes writing one SQLite file: a write waits for the other's transaction (an import of a
large report holds one for its whole run), bounded and said in the log, then carries on; past the
bound it fails with one clear line and writes nothing. Reads never wait."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.errors import StoreWriteError
from connector.store import runs as store_runs
from connector.store.database import create_engine_for
from connector.store.schema import connector_state
from tests.conftest import WriterWaitLines

CONNECTOR = "qualys-was"
NOW = datetime(2025, 3, 1, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's own lock


def write_state(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        store_runs.set_state(conn, CONNECTOR, name, "v", now=NOW)


def state_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(connector_state.c.name)).scalars())


def test_a_write_waits_for_the_other_writer_and_says_so(
    db_url: str, other_writer: sqlite3.Connection, writer_wait_lines: WriterWaitLines
) -> None:
    """While another connection holds a write transaction, a write logs that it waits, and
    completes once the other commits: both writes are stored."""
    engine = create_engine_for(db_url, sqlite_write_wait=30)
    outcome: list[BaseException | None] = []

    def sync_step() -> None:
        try:
            write_state(engine, "the-sync")
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread to assert on
            outcome.append(exc)

    worker = threading.Thread(target=sync_step)
    worker.start()
    try:
        assert writer_wait_lines.waiting.wait(timeout=20), writer_wait_lines.messages
        assert worker.is_alive()  # still waiting, not failed
        other_writer.commit()
        worker.join(timeout=20)
        assert outcome == [None]
        assert state_names(engine) == {"the-import", "the-sync"}
        assert writer_wait_lines.messages[0].endswith(
            "(an import?): waiting up to 30 s for it to end"
        )
        assert writer_wait_lines.messages[-1].endswith(": carrying on")
        assert "is free again after" in writer_wait_lines.messages[-1]
    finally:
        worker.join(timeout=20)
        engine.dispose()


def test_past_the_bound_a_write_fails_in_one_line_and_writes_nothing(
    db_url: str, other_writer: sqlite3.Connection, writer_wait_lines: WriterWaitLines
) -> None:
    """A write that would wait longer than its bound fails with one StoreWriteError line saying
    what happened; nothing of its transaction is stored."""
    engine = create_engine_for(db_url, sqlite_write_wait=0.3)
    try:
        with pytest.raises(StoreWriteError) as caught:
            write_state(engine, "the-sync")
        message = str(caught.value)
        path = sa.make_url(db_url).database
        assert message.startswith(
            f"writing state the-sync: the SQLite database {path} stayed locked by another "
            "process's write transaction for "
        )
        assert "the longest a write waits (0.3 s); nothing of this step was written" in message
        assert "\n" not in message
        assert writer_wait_lines.waiting.is_set()
        other_writer.commit()
        assert state_names(engine) == {"the-import"}
        write_state(engine, "later")  # the engine's connections are usable again
        assert state_names(engine) == {"the-import", "later"}
    finally:
        engine.dispose()


def test_reads_never_wait_for_a_writer(
    db_url: str, other_writer: sqlite3.Connection, writer_wait_lines: WriterWaitLines
) -> None:
    """Reading while another connection holds the write lock answers at once (WAL), without a
    waiting line, and sees only what was committed."""
    engine = create_engine_for(db_url, sqlite_write_wait=30)
    try:
        assert state_names(engine) == set()
        assert writer_wait_lines.messages == []
    finally:
        engine.dispose()
