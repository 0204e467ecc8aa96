"""Shared fixtures. The real Qualys samples are read from ../shared at test time, never copied."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from connector.store.database import create_engine_for, head_revision, upgrade
from connector.store.schema import metadata
from tests.support import Tenant, make_tenant

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
