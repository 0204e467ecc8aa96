"""Shared fixtures. The real Qualys samples are read from ../shared at test time, never copied."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from connector.store.database import create_engine_for, head_revision, upgrade
from connector.store.schema import metadata
from tests.support import Tenant, make_tenant, write_config

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "qualys" / "samples"


@pytest.fixture
def samples() -> Path:
    """The directory of real recorded Qualys responses; skips the test where ../shared is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real Qualys samples not found at {SAMPLES} (../shared is not checked out)")
    return SAMPLES


def read_sample(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()


# --- databases ----------------------------------------------------------------------------------
# `engine` (and `db_url`) run a test once per dialect: "sqlite" always (a fresh copy of a migrated
# file), "postgresql" when CONNECTOR_TEST_POSTGRES_URL names a server. Each test session migrates its
# own uniquely named PostgreSQL database once and drops it at the end (several people share the
# server), and every test starts from empty tables there. `empty_db_url` is a never-migrated database.

POSTGRES_ENV = "CONNECTOR_TEST_POSTGRES_URL"
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class _PostgresServer:
    admin: Engine  # AUTOCOMMIT engine on the database named in the URL
    url: sa.URL

    def create_database(self) -> str:
        name = f"connector_test_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_PostgresServer]:
    """The PostgreSQL server of $CONNECTOR_TEST_POSTGRES_URL; skips the test when it is unset."""
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV}=postgresql+psycopg://...")
    url = sa.make_url(raw)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield _PostgresServer(admin, url)
    admin.dispose()


@pytest.fixture(scope="session")
def _postgres_database(_postgres_server: _PostgresServer) -> Iterator[tuple[str, Engine]]:
    """This session's migrated PostgreSQL database: its URL and an engine used to reset it."""
    url = _postgres_server.create_database()
    engine = create_engine_for(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        _postgres_server.drop_database(url)


def _reset_postgres(engine: Engine) -> None:
    """Empty every table (fast TRUNCATE) and put the revision back at head."""
    tables = ", ".join(f'"{name}"' for name in metadata.tables)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("DELETE FROM alembic_version")
        conn.execute(
            sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head_revision()}
        )


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated database, once per dialect."""
    if request.param == "sqlite":
        path = tmp_path / "connector.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url, resetter = request.getfixturevalue("_postgres_database")
    _reset_postgres(resetter)
    return str(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An Engine on an empty, migrated database (see db_url), disposed after the test."""
    eng = create_engine_for(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(params=DIALECTS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database that was never migrated, once per dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'empty.db'}"
        return
    server: _PostgresServer = request.getfixturevalue("_postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def tenant(engine: Engine, db_url: str) -> Tenant:
    """A small simulated Qualys tenant whose syncs write to `engine` (SQLite and PostgreSQL)."""
    return make_tenant(engine, db_url)


@pytest.fixture
def synced(engine: Engine, db_url: str) -> Tenant:
    """The small simulated tenant, synced once (findings Active and Fixed, KB entries stored)."""
    tenant = make_tenant(engine, db_url)
    tenant.sync()
    return tenant


@pytest.fixture
def offline_config(tmp_path: Path, db_url: str) -> Path:
    """A config file for commands that read the store only (its Qualys URL is never called)."""
    return write_config(tmp_path, "http://unused.test", db_url)


# --- a second SQLite writer -------------------------------------------------------------------
class WriterWaitLines(logging.Handler):
    """The store's lines about waiting for another process's write transaction."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.waiting = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if "is locked by another process's write transaction" in record.getMessage():
            self.waiting.set()


@pytest.fixture
def writer_wait_lines() -> Iterator[WriterWaitLines]:
    """The writer wait's log lines, collected while the test runs."""
    handler = WriterWaitLines()
    logger = logging.getLogger("connector.store.writerwait")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@pytest.fixture
def other_writer(db_url: str) -> Iterator[sqlite3.Connection]:
    """A second connection holding the SQLite file's write lock (BEGIN IMMEDIATE and one
    write), as a long import does; the test commits it when it wants the lock freed."""
    if not db_url.startswith("sqlite"):
        pytest.skip("a second writer holding the file's lock is a SQLite matter")
    holder = sqlite3.connect(str(sa.make_url(db_url).database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(
        "INSERT INTO connector_state (connector, name, value, updated_at) VALUES (?, ?, ?, ?)",
        ("another-connector", "the-import", "{}", "2025-01-01T00:00:00+00:00"),
    )
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.rollback()
        holder.close()
