"""Engines per dialect, reachability checks and secret-free error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from connector.errors import StoreError
from connector.store import database


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    """SQLite connections get foreign keys, WAL and a 1 s busy slice (longer waits for another
    writer are the connector's own, logged); the directory is created."""
    engine = database.create_engine_for(f"sqlite:///{tmp_path / 'a' / 'b' / 'c.db'}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 1000}
        assert (tmp_path / "a" / "b").is_dir()
    finally:
        engine.dispose()


def test_check_database_passes_on_a_reachable_database(engine: Engine) -> None:
    """check_database returns quietly when SELECT 1 works."""
    database.check_database(engine)


def test_unreachable_database_is_a_store_error_without_the_password() -> None:
    """A refused connection becomes one StoreError line naming the database but not its password."""
    engine = database.create_engine_for(
        "postgresql+psycopg://scott:tiger-secret@127.0.0.1:1/connector?connect_timeout=2"
    )
    with pytest.raises(StoreError) as caught:
        database.check_database(engine)
    message = str(caught.value)
    assert message.startswith(
        "cannot reach the database postgresql+psycopg://scott:***@127.0.0.1:1"
    )
    assert "tiger-secret" not in message
    assert "\n" not in message


@pytest.mark.parametrize("url", ["not a url", "postgresql+psycopg://u:p4ss@db:port/c"])
def test_invalid_url_is_a_store_error(url: str) -> None:
    """A URL SQLAlchemy cannot parse (or whose port is no number) is a StoreError without the
    password, not a SQLAlchemy exception or a ValueError."""
    with pytest.raises(StoreError, match="invalid database URL") as caught:
        database.create_engine_for(url)
    assert "p4ss" not in str(caught.value)


def test_redact_hides_passwords() -> None:
    """redact() keeps user, host and database and masks the password."""
    assert database.redact("postgresql+psycopg://u:p4ss@db:5432/c") == (
        "postgresql+psycopg://u:***@db:5432/c"
    )
