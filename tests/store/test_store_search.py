"""The findings text filter served by an index: the same rows as the plain ILIKE on hostile texts,
an index kept in step with writes, existing rows indexed by the migration, and a PostgreSQL role
that may not create pg_trgm still migrating (search then unindexed, said once in the log)."""

from __future__ import annotations

import logging
import secrets

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine
from storefactories import CONNECTOR, asset, finding, seed, start_run

from connector.store import database
from connector.store.console import count_matching, finding_page
from connector.store.queries import ExportFilter, iter_findings
from connector.store.schema import findings
from connector.store.search import text_condition, warn_if_unindexed

TEXTS = [
    ("Cross-Site Scripting (reflected)", "https://a.example.com/search?q=<script>"),
    ("SQL Injection", "https://a.example.com/items?id=1' OR '1'='1"),
    ("100% CPU _under_ load", "https://a.example.com/%7Euser/_private"),
    ('Quoted "NEAR(a b)" AND OR NOT *', "https://a.example.com/path?x=a*b&y=NEAR(c"),
    ("Back\\slash and 50%_off", "https://a.example.com/c:\\windows"),
    ("Écran déjà vu ÄÖÜ straße", "https://b.example.com/ÜBER/größe"),
    ("日本語のテキスト", "https://b.example.com/検索?語=値"),
    ("Cookie Without Secure Flag", None),
    ("ab", "https://c.example.com/ab"),
    ("{name url} : column filter", "https://c.example.com/^start"),
]
HOSTILE = [
    "%", "_", "%%", "__", "\\", "\\%", "'", "''", '"', '""', "'1'='1", "100%", "50%_off",
    "_under_", "%7e", "AND", "and or", "NEAR(", "NEAR(a b)", "*", "a*b", "script*", "^start",
    "{name url}", "url:", "name : column", "ÉCRAN", "écran", "déjà", "ÄÖÜ", "äöü", "STRASSE",
    "straße", "größe", "ÜBER", "日本", "テキスト", "検", "a", "ab", "AB", "sc", "Scripting",
    "cross-site", "COOKIE without", "example.com/", "nothing-matches-this", "x=a*b&y=NEAR(c",
    "c:\\windows", "s c", " ",
]  # fmt: skip


@pytest.fixture
def searchable(engine: Engine) -> Engine:
    run = start_run(engine)
    stored = [finding(str(i), name=name, url=url) for i, (name, url) in enumerate(TEXTS, 1)]
    seed(engine, [asset("1")], stored, run)
    return engine


def _keys(conn: Connection, condition: sa.ColumnElement[bool]) -> list[str]:
    query = sa.select(findings.c.key).where(findings.c.connector == CONNECTOR, condition)
    return sorted(conn.execute(query).scalars())


def _plain_ilike(text: str) -> sa.ColumnElement[bool]:
    """The filter as it was before the index: written out here, independently of the store."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return sa.or_(
        findings.c.name.ilike(pattern, escape="\\"), findings.c.url.ilike(pattern, escape="\\")
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_indexed_search_keeps_the_rows_of_the_plain_ilike(searchable: Engine, text: str) -> None:
    """On hostile texts (LIKE wildcards, quotes, FTS5-like syntax, non-ASCII, 1-2 characters) the
    indexed filter keeps exactly the rows of the plain ILIKE on name or URL."""
    with searchable.connect() as conn:
        assert _keys(conn, text_condition(text)) == _keys(conn, _plain_ilike(text))


def test_the_filter_finds_substrings_ignoring_ascii_case(searchable: Engine) -> None:
    """Known answers, so the comparison above cannot pass on two empty results."""
    with searchable.connect() as conn:
        assert _keys(conn, text_condition("scripting")) == ["1"]
        assert _keys(conn, text_condition("100%")) == ["3"]
        assert _keys(conn, text_condition("NEAR(")) == ["4"]
        assert _keys(conn, text_condition("EXAMPLE.com/")) == sorted(
            str(i) for i, (_name, url) in enumerate(TEXTS, 1) if url
        )
        assert _keys(conn, text_condition("%")) == ["3", "5"]  # "%7E" in a URL; 50%_off


def test_sqlite_search_reads_the_text_index(searchable: Engine) -> None:
    if searchable.dialect.name != "sqlite":
        pytest.skip("the text index is SQLite's")
    query = sa.select(findings.c.key).where(text_condition("Scripting"))
    compiled = query.compile(searchable, compile_kwargs={"literal_binds": True})
    with searchable.connect() as conn:
        plan = " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "COVERING INDEX ix_findings_text" in plan


def test_postgres_has_the_trigram_indexes(searchable: Engine) -> None:
    if searchable.dialect.name != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    with searchable.connect() as conn:
        assert warn_if_unindexed(conn)


def test_the_index_follows_inserts_updates_and_deletes(searchable: Engine) -> None:
    """The index follows every write; the console's page and count agree with it."""
    with searchable.begin() as conn:
        conn.execute(
            findings.update().where(findings.c.key == "1").values(name="Stored XSS in comments")
        )
        conn.execute(findings.update().where(findings.c.key == "2").values(url=None))
        conn.execute(findings.update().where(findings.c.key == "8").values(qid=1))  # no text
        conn.execute(findings.delete().where(findings.c.key == "7"))
    with searchable.connect() as conn:
        assert _keys(conn, text_condition("Scripting")) == []
        assert _keys(conn, text_condition("stored xss")) == ["1"]
        assert _keys(conn, text_condition("items?id")) == []
        assert _keys(conn, text_condition("SQL Inj")) == ["2"]
        assert _keys(conn, text_condition("テキスト")) == []
        assert _keys(conn, text_condition("Cookie")) == ["8"]
        where = ExportFilter(text="Stored XSS")
        assert [r["key"] for r in finding_page(conn, CONNECTOR, where).rows] == ["1"]
        assert count_matching(conn, CONNECTOR, where) == 1
        assert [r["key"] for r in iter_findings(conn, CONNECTOR, where)] == ["1"]


def test_migration_indexes_existing_findings_and_downgrades(searchable: Engine) -> None:
    """Findings stored before 0005 are found after it; down and up again on a populated store."""
    with searchable.begin() as conn:
        command.downgrade(database._alembic_config(conn), "0004_import_identity")
    with searchable.begin() as conn:
        conn.execute(findings.update().where(findings.c.key == "8").values(name="Renamed Before"))
    database.upgrade(searchable)
    with searchable.connect() as conn:
        assert _keys(conn, text_condition("renamed before")) == ["8"]
        assert _keys(conn, text_condition("Scripting")) == ["1"]
        assert warn_if_unindexed(conn)


def test_postgres_role_without_pg_trgm_still_migrates(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A role that may not create pg_trgm migrates to head; search is unindexed but the same."""
    if not empty_db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL privilege")
    admin = database.create_engine_for(empty_db_url)
    role = f"connector_no_trgm_{secrets.token_hex(4)}"  # roles are server-wide: others test too
    url = sa.make_url(empty_db_url).set(username=role, password="pw-no-trgm")
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-no-trgm'")
            # It may create tables, not extensions (even trusted ones need CREATE on the database).
            conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {role}")
        engine = database.create_engine_for(url.render_as_string(hide_password=False))
        try:
            with caplog.at_level(logging.WARNING, logger="connector.store.search"):
                database.upgrade(engine)
            assert database.schema_status(engine).state == "current"
            assert [r.getMessage() for r in caplog.records if "unindexed" in r.getMessage()]
            run = start_run(engine)
            seed(engine, [asset("1")], [finding("1", name="Cross-Site Scripting")], run)
            with engine.connect() as conn:
                assert not warn_if_unindexed(conn)
                assert _keys(conn, text_condition("scripting")) == ["1"]
        finally:
            engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
