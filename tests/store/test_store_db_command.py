"""`connector db upgrade` and `connector db current` through the real CLI entry point."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from connector.cli import build_parser, main
from connector.store import database


def _run(argv: list[str], url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {
        "CONNECTOR_DATABASE_URL": url,
        "QUALYS_USERNAME": "tester",
        "QUALYS_PASSWORD": "not-used",
    }
    code = main(argv, environ=environ, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_upgrade_then_current(tmp_path: Path) -> None:
    """`db current` reports an empty database (exit 1); `db upgrade` migrates it once; then current is 0."""
    url = f"sqlite:///{tmp_path / 'data' / 'c.db'}"
    head = database.head_revision()

    code, out, _ = _run(["db", "current"], url)
    assert code == 1
    assert "revision: (none)" in out and f"head:     {head}" in out and "state:    empty" in out

    code, out, _ = _run(["db", "upgrade"], url)
    assert (code, out) == (0, f"{url}: upgraded (empty) -> {head}\n")

    code, out, _ = _run(["db", "upgrade"], url)
    assert (code, out) == (0, f"{url}: already at {head}\n")

    code, out, _ = _run(["db", "current"], url)
    assert code == 0
    assert f"revision: {head}" in out and "state:    current (up to date)" in out


def test_upgrade_refuses_a_newer_database(tmp_path: Path) -> None:
    """`db upgrade` on a database from a newer connector prints one error line and exits 1."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = database.create_engine_for(url)
    try:
        database.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'zzzz'")
    finally:
        engine.dispose()
    code, out, err = _run(["db", "upgrade"], url)
    assert (code, out) == (1, "")
    assert err == (
        f"error: database schema zzzz is newer than this connector ({database.head_revision()}): "
        "upgrade the connector\n"
    )
    code, out, _ = _run(["db", "current"], url)
    assert code == 1 and "state:    ahead (newer than this connector" in out


def test_password_is_not_printed(tmp_path: Path) -> None:
    """A PostgreSQL URL's password is masked in the output even when the database is unreachable."""
    code, out, err = _run(
        ["db", "current"], "postgresql+psycopg://u:hunter2@127.0.0.1:1/x?connect_timeout=2"
    )
    assert code == 1
    assert "hunter2" not in out + err
    assert err.startswith("error: cannot read the schema revision of postgresql+psycopg://u:***@")


@pytest.mark.parametrize(
    "argv", [["db", "--help"], ["db", "upgrade", "--help"], ["db", "current", "--help"]]
)
def test_db_commands_have_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Every db subcommand documents itself."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 0
    help_text = capsys.readouterr().out
    assert "schema" in help_text and len(help_text.splitlines()) >= 4
