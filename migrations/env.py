"""Alembic environment: runs migrations on the connection the connector hands over, or on the URL.

`connector.store.database.upgrade()` passes its own Connection in `config.attributes["connection"]`;
the `alembic` CLI (top-level alembic.ini) gets the URL from `-x url=...`, `$CONNECTOR_DATABASE_URL`
or `sqlalchemy.url`. Offline (`--sql`) mode is not supported: migrations run against a database.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from connector.store.database import create_engine_for
from connector.store.schema import TEXT_INDEX, TRIGRAM_INDEXES, metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        include_object=_object_filter(connection),
    )
    with context.begin_transaction():
        context.run_migrations()


def _object_filter(connection: Connection) -> Any:
    """The text index exists only on SQLite; the trigram indexes only on PostgreSQL, and there
    only where pg_trgm is installed (migration 0005_findings_search goes on without it)."""
    trigram = connection.dialect.name == "postgresql" and (
        connection.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first()
        is not None
    )

    def include(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
        if type_ == "index" and name in TRIGRAM_INDEXES:
            return trigram
        if type_ == "index" and name == TEXT_INDEX:
            return connection.dialect.name == "sqlite"
        return True

    return include


def url_from_cli() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("CONNECTOR_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise SystemExit("no database: pass -x url=... or set CONNECTOR_DATABASE_URL")
    return url


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

given = config.attributes.get("connection")
if given is not None:
    run(given)
else:
    if config.config_file_name is not None:  # the developer CLI: log as alembic.ini says
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_engine_for(url_from_cli())
    try:
        with engine.connect() as conn:
            run(conn)
            conn.commit()
    finally:
        engine.dispose()
