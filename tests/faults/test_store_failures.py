"""The database fails under a running `connector sync` or `connector import`: the disk fills up, the
database is read-only, PostgreSQL ends the connector's sessions mid-sync (pg_terminate_backend) or
mid-COMMIT, another process holds the SQLite write lock past the documented wait. Each ends in one
line and exit 1, never a traceback, with the failed transaction rolled back: what was committed
before stays, nothing is marked Fixed, and the next sync recovers. A sync meeting a long import's
write lock waits for it, says so, and completes."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from connector.models import RunOutcome
from connector.simulator import RunningServer, serve_in_thread
from connector.store import database, schema
from tests.conftest import WriterWaitLines
from tests.support import (
    CliResult,
    Snapshot,
    Tenant,
    assert_nothing_wrongly_fixed,
    run_cli,
    snapshot,
    table_rows,
    write_config,
)

Reference = Callable[[Tenant], Snapshot]
REPORT = "was_scan_report_584455.csv"  # a real export: 14 findings of one web app


@contextmanager
def on_every_engine(event: str, listener: Callable[..., Any]) -> Iterator[None]:
    """`listener` on `event` of every Engine (the CLI builds its own) for the block."""
    sa.event.listen(Engine, event, listener)
    try:
        yield
    finally:
        sa.event.remove(Engine, event, listener)


def one_error_line(result: CliResult) -> str:
    """The CLI's single `error:` line; asserts exit 1 and no traceback anywhere."""
    output = result.stdout + result.stderr
    assert result.code == 1, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def everything(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr)
            for table in schema.metadata.sorted_tables
        }


@pytest.fixture
def served(tenant: Tenant) -> Iterator[RunningServer]:
    """The tenant's simulator on a loopback port, for the CLI."""
    with serve_in_thread(tenant.sim) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, served: RunningServer, db_url: str) -> Path:
    """A CLI config pointing at the simulator and the test database."""
    return write_config(tmp_path, served.base_url, db_url)


def live(tenant: Tenant) -> Tenant:
    """The tenant synced at the real time, as the CLI does (retention must not archive)."""
    return Tenant(tenant.sim, tenant.config, tenant.engine, datetime.now(UTC))


# Faults only one dialect has: the test runs on that one alone.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@SQLITE_ONLY
# --- the disk fills up ---------------------------------------------------------------------------
def test_disk_full_mid_sync_rolls_back_the_page_and_is_one_line(
    tenant: Tenant, reference: Reference, config: Path, db_url: str
) -> None:
    """SQLITE_FULL on the second findings page (max_page_count frozen): exit 1, one line saying
    the disk is full; the store holds exactly what was committed before; the next sync recovers."""
    seen: dict[str, Any] = {"inserts": 0}

    def fill_the_disk(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO findings") and not seen.get("fired"):
            seen["inserts"] += 1
            if seen["inserts"] == 2:
                seen["fired"] = True
                seen["before"] = snapshot(tenant.engine)  # what is committed at that moment
                pages = cursor.connection.execute("PRAGMA page_count").fetchone()[0]
                cursor.connection.execute(f"PRAGMA max_page_count = {pages}")

    with on_every_engine("before_cursor_execute", fill_the_disk):
        line = one_error_line(run_cli(["sync", "--no-progress"], config))
    assert seen.get("fired")
    assert "database or disk is full; the disk holding the database is full" in line
    assert snapshot(tenant.engine) == seen["before"]
    assert len(seen["before"].findings) > 0  # the first page stayed committed
    assert_nothing_wrongly_fixed(tenant.engine)
    assert live(tenant).sync().outcome is RunOutcome.SUCCEEDED
    assert snapshot(tenant.engine) == reference(live(tenant))


@SQLITE_ONLY
def test_disk_full_during_an_import_leaves_the_store_as_it_was(
    tenant: Tenant, config: Path, db_url: str, samples: Path
) -> None:
    """An import whose file cannot grow (SQLITE_FULL from its first new page): exit 1, one line,
    and every table exactly as before (the import is one transaction)."""
    before = everything(tenant.engine)

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    with on_every_engine("connect", no_room):
        line = one_error_line(run_cli(["import", str(samples / REPORT)], config))
    assert "database or disk is full; the disk holding the database is full" in line
    assert everything(tenant.engine) == before


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 KiB tmpfs: a disk that really fills up (ENOSPC as the WAL is written at COMMIT)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@SQLITE_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_a_really_full_disk_fails_at_commit_in_one_line(
    tenant: Tenant,
    served: RunningServer,
    db_url: str,
    tiny_disk: Path,
    samples: Path,
    command: str,
) -> None:
    """On a file system that runs out of space while a transaction is committed, sync and import
    exit 1 with one line naming the full disk, and the file stays a consistent database."""
    database = tiny_disk / "connector.db"
    shutil.copyfile(str(sa.make_url(db_url).database), database)  # a migrated, empty store
    url = f"sqlite:///{database}"
    config = write_config(tiny_disk.parent, served.base_url, url)
    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    line = one_error_line(run_cli(argv, config))
    # The transaction fits SQLite's page cache, so the disk fills as COMMIT writes the WAL out.
    assert f"the database {url} refused to commit: database or disk is full; the disk" in line
    assert "(the transaction's changes were rolled back)" in line
    check = sqlite3.connect(database)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        if command == "import":  # one transaction: nothing of it, no run row either
            assert check.execute("SELECT count(*) FROM findings").fetchone() == (0,)
    finally:
        check.close()


# --- the database is read-only ------------------------------------------------------------------
def _query_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")


@pytest.fixture
def reader_url(db_url: str) -> Iterator[str]:
    """The test database as a PostgreSQL role that may read but not write (a read-only grant)."""
    admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    role = f"reader_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield sa.make_url(db_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


@SQLITE_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_a_read_only_sqlite_database_is_one_line_and_nothing_changes(
    tenant: Tenant, config: Path, samples: Path, command: str, db_url: str
) -> None:
    """A SQLite database that refuses writes (PRAGMA query_only): exit 1 with one line saying
    the file or its directory is read-only, and no table changes."""
    live(tenant).sync()
    before = everything(tenant.engine)
    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    with on_every_engine("connect", _query_only):
        line = one_error_line(run_cli(argv, config))
    assert "attempt to write a readonly database; the database file or its directory is " in line
    assert everything(tenant.engine) == before


@POSTGRES_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_a_postgres_user_that_may_only_read_is_one_line_and_nothing_changes(
    tenant: Tenant,
    tmp_path: Path,
    served: RunningServer,
    samples: Path,
    command: str,
    reader_url: str,
) -> None:
    """PostgreSQL refusing every write to the connector's user: exit 1 with one line saying the
    user may not write, and no table changes."""
    live(tenant).sync()
    before = everything(tenant.engine)
    config = write_config(tmp_path, served.base_url, reader_url)
    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    line = one_error_line(run_cli(argv, config))
    assert "permission denied for table" in line
    assert "the database user may not write these tables" in line
    assert everything(tenant.engine) == before


@SQLITE_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_a_sqlite_file_opened_read_only_is_one_line(
    tenant: Tenant, tmp_path: Path, served: RunningServer, samples: Path, db_url: str, command: str
) -> None:
    """database.url = sqlite:///file:...?mode=ro&uri=true (what a read-only file gives a user
    who may not write it: SQLITE_READONLY): exit 1, one line, the file unchanged."""
    live(tenant).sync()
    before = everything(tenant.engine)
    path = sa.make_url(db_url).database
    config = write_config(tmp_path, served.base_url, f"sqlite:///file:{path}?mode=ro&uri=true")
    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    line = one_error_line(run_cli(argv, config))
    assert "attempt to write a readonly database; the database file or its directory is" in line
    assert everything(tenant.engine) == before


# --- PostgreSQL ends the connector's sessions ---------------------------------------------------
@pytest.fixture
def terminator(db_url: str) -> Iterator[Callable[[], int]]:
    """A function ending every other session on the test database (as a server stop would)."""
    admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def terminate() -> int:
        with admin.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).scalar_one()
            )

    yield terminate
    admin.dispose()


@POSTGRES_ONLY
def test_postgres_sessions_ended_mid_write_fail_the_sync_in_one_line(
    tenant: Tenant, reference: Reference, config: Path, terminator: Callable[[], int]
) -> None:
    """pg_terminate_backend of the connector's sessions just before the second findings page is
    written: exit 1, one line saying the connection was lost; the store holds what was committed
    before, nothing is marked Fixed, and the next sync stores what a clean sync stores."""
    seen: dict[str, Any] = {"inserts": 0}

    def stop_the_server(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO findings") and not seen.get("fired"):
            seen["inserts"] += 1
            if seen["inserts"] == 2:
                seen["fired"] = True
                seen["before"] = snapshot(tenant.engine)
                seen["ended"] = terminator()

    with on_every_engine("before_cursor_execute", stop_the_server):
        line = one_error_line(run_cli(["sync", "--no-progress"], config))
    assert seen.get("ended", 0) >= 2  # the writing session and the sync lock's session at least
    assert "the connection to the database was lost" in line
    tenant.engine.dispose()  # its pooled sessions were ended too
    assert snapshot(tenant.engine) == seen["before"]
    assert len(seen["before"].findings) > 0
    assert_nothing_wrongly_fixed(tenant.engine)
    assert live(tenant).sync().outcome is RunOutcome.SUCCEEDED
    assert snapshot(tenant.engine) == reference(live(tenant))


@POSTGRES_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_postgres_sessions_ended_at_commit_are_one_line(
    tenant: Tenant,
    config: Path,
    terminator: Callable[[], int],
    samples: Path,
    command: str,
) -> None:
    """The sessions ended as a transaction COMMITs (the third for a sync, the import's own):
    exit 1 and one line naming the broken commit, not a traceback; an import stores nothing."""
    before = everything(tenant.engine)
    seen: dict[str, Any] = {"commits": 0}
    target = 3 if command == "sync" else 1

    def stop_at_commit(conn: Any) -> None:
        seen["commits"] += 1
        if seen["commits"] == target:
            seen["before"] = snapshot(tenant.engine)
            seen["ended"] = terminator()

    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    with on_every_engine("commit", stop_at_commit):
        line = one_error_line(run_cli(argv, config))
    assert seen.get("ended", 0) >= 1
    assert "broke while committing: terminating connection due to administrator command" in line
    tenant.engine.dispose()  # its pooled sessions were ended too
    assert snapshot(tenant.engine) == seen["before"]  # the broken commit stored nothing
    if command == "import":
        assert everything(tenant.engine) == before
    else:
        assert [r["outcome"] for r in table_rows(tenant.engine, schema.sync_runs)] == ["failed"]
    assert_nothing_wrongly_fixed(tenant.engine)


# --- another process holds the SQLite file's write lock (a long import) --------------------------
@SQLITE_ONLY
def test_a_sync_waits_for_a_long_import_then_completes(
    tenant: Tenant,
    reference: Reference,
    other_writer: sqlite3.Connection,
    writer_wait_lines: WriterWaitLines,
) -> None:
    """A sync started while another process holds the SQLite write lock logs that it waits,
    carries on once that transaction commits, and stores what a clean sync stores."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(tenant.sync().outcome))
    worker.start()
    try:
        assert writer_wait_lines.waiting.wait(timeout=30), writer_wait_lines.messages
        assert worker.is_alive()
        other_writer.commit()
    finally:
        worker.join(timeout=60)
    assert result == [RunOutcome.SUCCEEDED]
    assert any("is free again after" in m for m in writer_wait_lines.messages)
    assert snapshot(tenant.engine) == reference(tenant)


@SQLITE_ONLY
@pytest.mark.parametrize("command", ["sync", "import"])
def test_past_the_wait_a_sync_or_import_fails_in_one_line(
    tenant: Tenant,
    config: Path,
    samples: Path,
    other_writer: sqlite3.Connection,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """With the write lock held past the documented wait (shortened here), `connector sync` and
    `connector import` exit 1 with one line saying another process held the database; nothing
    is written."""
    before = everything(tenant.engine)
    monkeypatch.setattr(database, "SQLITE_WRITE_WAIT_SECONDS", 0.5)
    argv = ["sync", "--no-progress"] if command == "sync" else ["import", str(samples / REPORT)]
    line = one_error_line(run_cli(argv, config))
    assert "stayed locked by another process's write transaction for " in line
    assert "the longest a write waits (0.5 s); nothing of this step was written" in line
    other_writer.rollback()
    assert everything(tenant.engine) == before
