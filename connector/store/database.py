"""Connecting to the database and keeping its schema at this connector's Alembic head.

The migration scripts live in the top-level `migrations` package (shipped with the connector), and
Alembic is configured here in code, so neither an alembic.ini nor the working directory matters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

import migrations
from connector.errors import SchemaMismatchError, StoreError
from connector.store.schema import metadata

log = logging.getLogger(__name__)

SchemaState = Literal["empty", "behind", "current", "ahead", "unknown"]

# pg_advisory_xact_lock key serialising concurrent `upgrade()` calls on one PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x51_57_A5_C0


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands relative to this connector's migrations.

    state: "empty" (never migrated), "behind" (an older revision of ours), "current" (at head),
    "ahead" (a revision this connector does not know: written by a newer connector), "unknown"
    (connector tables exist but no revision is recorded: not created by these migrations).
    """

    current: str | None
    head: str
    state: SchemaState


def create_engine_for(url: str) -> Engine:
    """An Engine for `url`; SQLite gets its directory, foreign keys, WAL and a busy timeout."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot use database {redact(parsed)}: {exc}") from exc


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if not in_memory:
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {database}: {exc}") from exc
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return engine


def redact(url: sa.URL | str) -> str:
    """The URL with any password replaced by ***, safe to log or print."""
    if isinstance(url, str):
        try:
            url = sa.make_url(url)
        except ArgumentError:
            return "<unparseable database URL>"
    return url.render_as_string(hide_password=True)


def check_database(engine: Engine) -> None:
    """Connect and run SELECT 1; StoreError with a clear message if the database is unreachable."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot reach the database {redact(engine.url)}: {db_reason(exc)}"
        ) from exc


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations.DIRECTORY))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The newest revision this connector's migrations know."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise SchemaMismatchError("the connector ships no database migrations")
    return head


def _status_on(conn: Connection) -> SchemaStatus:
    head = head_revision()
    revisions = MigrationContext.configure(conn).get_current_heads()
    if not revisions:
        ours = set(metadata.tables) & set(sa.inspect(conn).get_table_names())
        return SchemaStatus(None, head, "unknown" if ours else "empty")
    current = ",".join(revisions)
    scripts = _scripts()
    known = {rev.revision for rev in scripts.walk_revisions()}
    if any(rev not in known for rev in revisions):
        return SchemaStatus(current, head, "ahead")
    return SchemaStatus(current, head, "current" if revisions == (head,) else "behind")


def schema_status(engine: Engine) -> SchemaStatus:
    """Read the database's Alembic revision and compare it with this connector's head."""
    try:
        with engine.connect() as conn:
            return _status_on(conn)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the schema revision of {redact(engine.url)}: {db_reason(exc)}"
        ) from exc


def _refuse(status: SchemaStatus) -> None:
    if status.state == "ahead":
        raise SchemaMismatchError(
            f"database schema {status.current} is newer than this connector ({status.head}): "
            "upgrade the connector"
        )
    if status.state == "unknown":
        raise SchemaMismatchError(
            "the database has connector tables but no schema revision (no alembic_version row): "
            "it was not created by `connector db upgrade`; use an empty database"
        )


def upgrade(engine: Engine) -> None:
    """Migrate the database to head in one transaction (serialised against concurrent upgrades)."""
    try:
        with engine.begin() as conn:
            _lock_for_migration(conn)
            status = _status_on(conn)
            _refuse(status)
            if status.state == "current":
                return
            log.info("migrating database schema from %s to %s", status.current, status.head)
            command.upgrade(_alembic_config(conn), "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"migrating the database {redact(engine.url)} failed: {db_reason(exc)}"
        ) from exc


def _lock_for_migration(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # pysqlite leaves DDL outside transactions; an explicit IMMEDIATE transaction makes the
        # migration atomic and takes the write lock first, so a concurrent upgrader waits for it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))


def ensure_schema(engine: Engine) -> None:
    """Upgrade an empty or older database; refuse one migrated by a newer connector."""
    status = schema_status(engine)
    _refuse(status)
    if status.state != "current":
        upgrade(engine)


def db_reason(exc: BaseException) -> str:
    """The first line of the driver's message, without SQL or parameters."""
    orig: Any = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
