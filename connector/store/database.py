"""Connecting to the database and keeping its schema at this connector's Alembic head.

The migration scripts live in the top-level `migrations` package (shipped with the connector), and
Alembic is configured here in code, so neither an alembic.ini nor the working directory matters.
"""

from __future__ import annotations

import logging
import weakref
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
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

import migrations
from connector.errors import SchemaMismatchError, StoreError
from connector.store.failures import commit_failure, db_reason
from connector.store.schema import metadata
from connector.store.writerwait import WriterWait, busy_slice_ms

log = logging.getLogger(__name__)

SchemaState = Literal["empty", "behind", "current", "ahead", "unknown"]

# pg_advisory_xact_lock key serialising concurrent `upgrade()` calls on one PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x51_57_A5_C0

# How long a write to a SQLite file waits for another process's write transaction (an import of a
# large report holds one for its whole run) before it fails; documented in the README.
SQLITE_WRITE_WAIT_SECONDS = 600.0


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


def create_engine_for(url: str, *, sqlite_write_wait: float | None = None) -> Engine:
    """An Engine for `url`; SQLite gets its directory, foreign keys, WAL, and writes that wait
    for another process's write transaction up to `sqlite_write_wait` seconds (default
    SQLITE_WRITE_WAIT_SECONDS), saying so in the log."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}") from exc
    except ValueError as exc:  # what SQLAlchemy raises for a port that is not a number
        raise StoreError("invalid database URL: its port is not a number") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            wait = SQLITE_WRITE_WAIT_SECONDS if sqlite_write_wait is None else sqlite_write_wait
            engine = _sqlite_engine(parsed, wait)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot use database {redact(parsed)}: {exc}") from exc
    _translate_commit_failures(engine)
    return engine


def _translate_commit_failures(engine: Engine) -> None:
    """A failed COMMIT (the disk filled up as the transaction was written out, the server went
    away) becomes a CommitFailedError; failed statements are translated where they run."""
    where = redact(engine.url)
    committing: weakref.WeakSet[Connection] = weakref.WeakSet()  # between COMMIT and its answer

    @sa.event.listens_for(engine, "begin")
    @sa.event.listens_for(engine, "rollback")
    def _not_committing(conn: Connection) -> None:
        committing.discard(conn)

    @sa.event.listens_for(engine, "commit")
    def _committing(conn: Connection) -> None:
        committing.add(conn)

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(ctx: ExceptionContext) -> BaseException | None:
        conn = ctx.connection
        if ctx.statement is not None or conn is None or ctx.is_pre_ping:
            return None
        if conn not in committing:
            return None
        committing.discard(conn)
        failed = ctx.sqlalchemy_exception or ctx.original_exception
        return commit_failure(where, failed, connection_lost=ctx.is_disconnect)


def _sqlite_engine(url: sa.URL, write_wait: float) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if not in_memory:
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {database}: {exc}") from exc
    engine = sa.create_engine(url)
    waiting = WriterWait(database or ":memory:", write_wait)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_slice_ms(write_wait)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    # Every statement goes through the wait (it runs it once when there is nothing to wait for).
    @sa.event.listens_for(engine, "do_execute")
    def _execute(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        waiting.run(cursor, lambda: cursor.execute(statement, parameters))
        return True

    @sa.event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor: Any, statement: str, _context: Any) -> bool:
        waiting.run(cursor, lambda: cursor.execute(statement))
        return True

    @sa.event.listens_for(engine, "do_executemany")
    def _executemany(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        waiting.run(cursor, lambda: cursor.executemany(statement, parameters))
        return True

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


def missing_sqlite_file(url: str) -> Path | None:
    """The path of a SQLite database file that does not exist (connecting would create it)."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


def no_database(where: object) -> str:
    return f"no database at {where}: run `connector sync` or `connector db upgrade` first"


def open_existing(url: str) -> Engine:
    """An Engine on a database that exists at this connector's schema, for commands that only
    read: creates no file and migrates nothing (a typo in the path must not make a new one)."""
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise StoreError(no_database(missing))
    engine = create_engine_for(url)
    try:
        require_current_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def require_current_schema(engine: Engine) -> None:
    """StoreError unless the schema is at head: an empty database is "no database", an older one
    needs `connector db upgrade`, a newer one a newer connector."""
    status = schema_status(engine)
    _refuse(status)
    if status.state == "empty":
        where = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        raise StoreError(no_database(where or redact(engine.url)))
    if status.state == "behind":
        raise SchemaMismatchError(
            f"the database {redact(engine.url)} has schema {status.current}, older than this "
            f"connector's {status.head}: run `connector db upgrade` first"
        )


def ensure_schema(engine: Engine) -> None:
    """Upgrade an empty or older database; refuse one migrated by a newer connector."""
    status = schema_status(engine)
    _refuse(status)
    if status.state != "current":
        upgrade(engine)
