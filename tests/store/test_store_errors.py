"""Bad input fails the caller's transaction with a StoreWriteError naming the record; nothing is left."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from storefactories import CONNECTOR, NOW, asset, finding, rows, start_run

from connector.errors import StoreError, StoreWriteError
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store.failures import CommitFailedError
from connector.store.schema import assets, finding_events, findings


def _fails_whole_transaction(engine: Engine, bad: list[object], match: str) -> StoreWriteError:
    run = start_run(engine)

    def transaction() -> None:
        with engine.begin() as conn:
            store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
            store_findings.upsert_findings(
                conn, CONNECTOR, [finding("1"), finding("2")], run_id=run, now=NOW, reason="ok"
            )
            store_findings.upsert_findings(conn, CONNECTOR, bad, run_id=run, now=NOW, reason="bad")  # type: ignore[arg-type]

    with pytest.raises(StoreWriteError, match=match) as caught:
        transaction()
    assert rows(engine, assets) == []
    assert rows(engine, findings) == []
    assert rows(engine, finding_events) == []
    return caught.value


def test_value_too_long_names_the_record(engine: Engine) -> None:
    """A key longer than its column is refused, naming finding and asset, on every dialect."""
    error = _fails_whole_transaction(
        engine,
        [finding("3"), finding("4", unique_id="u" * 65)],
        match=r"^finding 4 of asset 1: value too long for unique_id \(65 > 64 characters\)$",
    )
    assert isinstance(error, StoreError)


def test_finding_of_a_missing_asset_names_the_record(engine: Engine) -> None:
    """A finding whose asset is not stored is refused before anything of its batch is written."""
    _fails_whole_transaction(
        engine,
        [finding("3"), finding("4", asset_key="404")],
        match=r"^finding 4 of asset 404: asset 404 is not in the store",
    )


def test_database_errors_are_translated_and_name_the_batch(engine: Engine) -> None:
    """A constraint the store does not pre-check (NOT NULL) still surfaces as StoreWriteError."""
    error = _fails_whole_transaction(
        engine,
        [finding("3"), finding("4", name=None)],
        match=r"^writing 2 findings \(first: finding 3 of asset 1\): .*(null|NULL)",
    )
    assert error.__cause__ is not None


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    """A timezone-naive datetime is a StoreWriteError, not silently stored as local time."""
    _fails_whole_transaction(
        engine,
        [finding("3", last_seen=datetime(2025, 1, 1))],  # naive: the point of the test
        match=r"^finding 3 of asset 1: naive datetime",
    )


def test_events_need_an_existing_run(engine: Engine) -> None:
    """Writing findings under a run id that does not exist is refused with a clear message."""

    def transaction() -> None:
        with engine.begin() as conn:
            store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
            store_findings.upsert_findings(
                conn, CONNECTOR, [finding("1")], run_id=999, now=NOW, reason="r"
            )

    with pytest.raises(StoreWriteError, match=r"^run 999 does not exist"):
        transaction()


def test_too_long_asset_fields_are_refused(engine: Engine) -> None:
    """Asset keys are length-checked too, naming the asset."""
    with (
        pytest.raises(StoreWriteError, match=r"^asset k+: value too long for key"),
        engine.begin() as conn,
    ):
        store_assets.upsert_assets(conn, CONNECTOR, [asset("k" * 201)], now=NOW)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_commit_the_database_refuses_is_one_store_error(engine: Engine) -> None:
    """A COMMIT that fails (a deferred foreign key checked at commit, as a full disk fails while
    the transaction is written out) is a StoreWriteError naming the database, nothing is kept,
    and it still is a SQLAlchemyError for code that rides out database trouble."""
    run = start_run(engine)

    def transaction() -> None:
        with engine.begin() as conn:
            store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # inside the transaction
            store_findings.upsert_findings(
                conn, CONNECTOR, [finding("1")], run_id=run, now=NOW, reason="ok"
            )
            conn.execute(sa.delete(assets))  # the finding's asset goes; checked at COMMIT

    with pytest.raises(CommitFailedError) as caught:
        transaction()
    error = caught.value
    assert isinstance(error, StoreWriteError)
    assert isinstance(error, SQLAlchemyError)
    assert str(error) == (
        f"the database {engine.url} refused to commit: FOREIGN KEY constraint failed "
        "(the transaction's changes were rolled back)"
    )
    assert rows(engine, findings) == []
    with engine.begin() as conn:  # the pooled connection is usable again
        store_assets.upsert_assets(conn, CONNECTOR, [asset("2")], now=NOW)
    assert len(rows(engine, assets)) == 1
