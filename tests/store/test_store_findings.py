"""Findings: set-based upserts that skip unchanged rows, status events, absent findings fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from storefactories import (
    CONNECTOR,
    LATER,
    NOW,
    asset,
    finding,
    recorded_sql,
    rows,
    seed,
    start_run,
    writes,
)

from connector.models import FindingStatus, SeveritySource
from connector.store import assets as store_assets
from connector.store import finding_reads
from connector.store import findings as store_findings
from connector.store.queries import active_finding_counts
from connector.store.schema import finding_events, findings


def _events(engine: Engine) -> list[tuple[str, str | None, str, str]]:
    return [
        (e["finding_key"], e["from_status"], e["to_status"], e["reason"])
        for e in sorted(rows(engine, finding_events), key=lambda e: e["id"])
    ]


def test_same_batch_twice_writes_nothing_the_second_time(engine: Engine) -> None:
    """Re-upserting an unchanged batch returns it as unchanged and executes no write at all."""
    run = start_run(engine)
    batch = [finding(str(i), asset_key=str(i % 3)) for i in range(1, 301)]
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, [asset(str(i)) for i in range(3)], now=NOW)
        first = store_findings.upsert_findings(
            conn, CONNECTOR, batch, run_id=run, now=NOW, reason="sync"
        )
    assert (len(first.created), first.updated, first.unchanged) == (300, [], 0)
    before = rows(engine, findings)

    with recorded_sql(engine) as statements, engine.begin() as conn:
        second = store_findings.upsert_findings(
            conn, CONNECTOR, batch, run_id=run, now=LATER, reason="sync"
        )

    assert (second.created, second.updated, second.unchanged) == ([], [], 300)
    assert second.status_changes == []
    assert writes(statements) == []
    assert rows(engine, findings) == before  # updated_at included: nothing was touched
    assert len(rows(engine, finding_events)) == 300  # only the creations


def test_created_findings_get_creation_events_and_stored_fields(engine: Engine) -> None:
    """A new finding is stored field for field with created/updated times and a None -> Active event."""
    run = start_run(engine)
    record = finding("7", severity_source=SeveritySource.KB_CVSS_V3, ports=(443,), evidence="<x>")
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
        result = store_findings.upsert_findings(
            conn, CONNECTOR, [record], run_id=run, now=NOW, reason="qualys"
        )
    assert result.status_changes == [("7", None, "Active")]
    (row,) = rows(engine, findings)
    assert row["cwes"] == [79] and row["ports"] == [443] and row["evidence"] == "<x>"
    assert row["severity_source"] == "kb_cvss_v3"
    assert (row["created_at"], row["updated_at"], row["fixed_at"]) == (NOW, NOW, None)
    assert row["first_seen"] == record.first_seen and row["first_seen"].tzinfo is not None
    assert _events(engine) == [("7", None, "Active", "qualys")]
    with engine.connect() as conn:
        loaded = finding_reads.load_findings(
            conn, CONNECTOR, qids=[record.qid or 0], severity_source="kb_cvss_v3"
        )
    assert loaded == [record]


def test_status_changes_write_events_and_fixed_fields(engine: Engine) -> None:
    """Active -> Fixed sets fixed_at/fixed_reason and an event; Fixed -> Active clears them."""
    run = start_run(engine)
    seed(engine, [asset("1")], [finding("1"), finding("2")], run)
    fixed_by_qualys = NOW - timedelta(hours=5)
    with engine.begin() as conn:
        result = store_findings.upsert_findings(
            conn,
            CONNECTOR,
            [
                finding(
                    "1", status=FindingStatus.FIXED, qualys_status="FIXED", fixed_at=fixed_by_qualys
                ),
                finding("2", status=FindingStatus.FIXED, qualys_status="PROTECTED"),
            ],
            run_id=run,
            now=LATER,
            reason="qualys status FIXED",
        )
    assert (result.updated, result.created) == (["1", "2"], [])
    assert result.status_changes == [("1", "Active", "Fixed"), ("2", "Active", "Fixed")]
    stored = {r["key"]: r for r in rows(engine, findings)}
    assert stored["1"]["fixed_at"] == fixed_by_qualys  # the finding's own time wins
    assert stored["2"]["fixed_at"] == LATER  # else now
    assert stored["1"]["fixed_reason"] == "qualys status FIXED"
    assert stored["1"]["created_at"] == NOW and stored["1"]["updated_at"] == LATER

    reopened = LATER + timedelta(days=1)
    with engine.begin() as conn:
        again = store_findings.upsert_findings(
            conn,
            CONNECTOR,
            [finding("1", qualys_status="REOPENED")],
            run_id=run,
            now=reopened,
            reason="reopened",
        )
    assert again.status_changes == [("1", "Fixed", "Active")]
    stored = {r["key"]: r for r in rows(engine, findings)}
    assert (stored["1"]["status"], stored["1"]["fixed_at"], stored["1"]["fixed_reason"]) == (
        "Active",
        None,
        None,
    )
    assert _events(engine)[-3:] == [
        ("1", "Active", "Fixed", "qualys status FIXED"),
        ("2", "Active", "Fixed", "qualys status FIXED"),
        ("1", "Fixed", "Active", "reopened"),
    ]


def test_content_change_without_status_change_updates_without_event(engine: Engine) -> None:
    """A changed field rewrites the row (updated, new updated_at) but writes no event."""
    run = start_run(engine)
    seed(engine, [asset("1")], [finding("1"), finding("2")], run)
    with engine.begin() as conn:
        result = store_findings.upsert_findings(
            conn,
            CONNECTOR,
            [finding("1", cvss_v3_base=9.8), finding("2")],
            run_id=run,
            now=LATER,
            reason="sync",
        )
    assert (result.updated, result.unchanged, result.status_changes) == (["1"], 1, [])
    stored = {r["key"]: r for r in rows(engine, findings)}
    assert (stored["1"]["cvss_v3_base"], stored["1"]["updated_at"]) == (9.8, LATER)
    assert stored["2"]["updated_at"] == NOW
    assert len(_events(engine)) == 2


def test_still_fixed_finding_keeps_when_and_why_it_was_fixed(engine: Engine) -> None:
    """A Fixed finding whose content changes again keeps its original fixed_at and fixed_reason."""
    run = start_run(engine)
    seed(engine, [asset("1")], [finding("1", status=FindingStatus.FIXED)], run)
    with engine.begin() as conn:
        store_findings.upsert_findings(
            conn,
            CONNECTOR,
            [finding("1", status=FindingStatus.FIXED, name="renamed")],
            run_id=run,
            now=LATER,
            reason="later",
        )
    (row,) = rows(engine, findings)
    assert (row["name"], row["fixed_at"], row["fixed_reason"]) == ("renamed", NOW, "seed")


def test_a_key_twice_in_one_batch_keeps_the_later_record(engine: Engine) -> None:
    """Duplicate keys in a batch are written once, with the later record's values."""
    run = start_run(engine)
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
        result = store_findings.upsert_findings(
            conn,
            CONNECTOR,
            [finding("1", name="old"), finding("1", name="new")],
            run_id=run,
            now=NOW,
            reason="r",
        )
    assert result.created == ["1"]
    assert [r["name"] for r in rows(engine, findings)] == ["new"]


def test_mark_absent_fixed_is_scoped_by_source_and_assets(engine: Engine) -> None:
    """Only Active findings of the given source (and assets) that were not seen become Fixed."""
    run = start_run(engine)
    seed(
        engine,
        [asset("1"), asset("2")],
        [
            finding("10", asset_key="1"),
            finding("11", asset_key="1"),
            finding("20", asset_key="2"),
            finding("21", asset_key="2", status=FindingStatus.FIXED),
            finding("30", asset_key="1", source="import:burp"),
        ],
        run,
    )
    with engine.begin() as conn:
        scoped = store_findings.mark_absent_fixed(
            conn,
            CONNECTOR,
            {"10"},
            run_id=run,
            now=LATER,
            reason="absent from scan",
            source="api",
            asset_keys=["1"],
        )
    assert scoped == ["11"]
    with engine.begin() as conn:
        unscoped = store_findings.mark_absent_fixed(
            conn, CONNECTOR, {"10"}, run_id=run, now=LATER, reason="absent from sync"
        )
    assert unscoped == ["20"]  # 21 already Fixed, 30 is an import finding
    stored = {r["key"]: r for r in rows(engine, findings)}
    assert {k for k, r in stored.items() if r["status"] == "Fixed"} == {"11", "20", "21"}
    assert (stored["11"]["fixed_at"], stored["11"]["fixed_reason"]) == (LATER, "absent from scan")
    assert stored["11"]["content_hash"] is None and stored["10"]["content_hash"] is not None
    assert _events(engine)[-2:] == [
        ("11", "Active", "Fixed", "absent from scan"),
        ("20", "Active", "Fixed", "absent from sync"),
    ]


def test_a_finding_fixed_as_absent_is_rewritten_when_it_reappears(engine: Engine) -> None:
    """After mark_absent_fixed, the same unchanged record reactivates the finding with an event."""
    run = start_run(engine)
    seed(engine, [asset("1")], [finding("1")], run)
    with engine.begin() as conn:
        store_findings.mark_absent_fixed(
            conn, CONNECTOR, set(), run_id=run, now=LATER, reason="absent"
        )
        result = store_findings.upsert_findings(
            conn, CONNECTOR, [finding("1")], run_id=run, now=LATER, reason="back"
        )
    assert result.status_changes == [("1", "Fixed", "Active")]
    (row,) = rows(engine, findings)
    assert (row["status"], row["fixed_at"], row["content_hash"] is not None) == (
        "Active",
        None,
        True,
    )


def test_mark_absent_fixed_copes_with_a_large_seen_set(engine: Engine) -> None:
    """250,000 seen keys and thousands of stored findings are diffed without oversized statements."""
    run = start_run(engine)
    stored = [finding(str(i), asset_key=str(i % 10)) for i in range(3000)]
    seed(engine, [asset(str(i)) for i in range(10)], stored, run)
    seen = {str(i) for i in range(0, 250_000, 2)} | {f"x{i}" for i in range(125_000)}
    with recorded_sql(engine) as statements, engine.begin() as conn:
        fixed = store_findings.mark_absent_fixed(
            conn, CONNECTOR, seen, run_id=run, now=LATER, reason="absent"
        )
    assert sorted(fixed, key=int) == [str(i) for i in range(1, 3000, 2)]
    assert max(len(s) for s in statements) < 100_000  # nothing scales with the seen set
    with engine.connect() as conn:
        counts = finding_reads.count_findings(conn, CONNECTOR)
    assert counts == {("Active", "High"): 1500, ("Fixed", "High"): 1500}


def test_counts_leave_out_archived_assets_by_default(engine: Engine) -> None:
    """count_findings skips findings of archived assets unless asked; per-asset counts are Active only."""
    run = start_run(engine)
    seed(
        engine,
        [asset("1"), asset("2", last_observed=NOW - timedelta(days=90))],
        [
            finding("1", asset_key="1"),
            finding("2", asset_key="1", status=FindingStatus.FIXED),
            finding("3", asset_key="2"),
        ],
        run,
    )
    with engine.begin() as conn:
        store_assets.apply_retention(conn, CONNECTOR, cutoff=NOW - timedelta(days=30), now=NOW)
        assert finding_reads.count_findings(conn, CONNECTOR) == {
            ("Active", "High"): 1,
            ("Fixed", "High"): 1,
        }
        assert finding_reads.count_findings(conn, CONNECTOR, include_archived=True) == {
            ("Active", "High"): 2,
            ("Fixed", "High"): 1,
        }
        assert active_finding_counts(conn, CONNECTOR) == {"1": 1, "2": 1}
        assert finding_reads.count_findings(conn, "another-connector") == {}


def test_findings_of_another_connector_are_separate(engine: Engine) -> None:
    """The same keys under two connector names are two independent sets of rows."""
    run = start_run(engine)
    seed(engine, [asset("1")], [finding("1")], run)
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, "other", [asset("1")], now=NOW)
        result = store_findings.upsert_findings(
            conn, "other", [finding("1")], run_id=run, now=NOW, reason="r"
        )
        fixed = store_findings.mark_absent_fixed(
            conn, "other", set(), run_id=run, now=NOW, reason="absent"
        )
    assert (result.created, fixed) == (["1"], ["1"])
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(findings.c.connector, findings.c.status)).all())
    assert statuses == {CONNECTOR: "Active", "other": "Fixed"}


def test_postgres_statistics_are_refreshed_after_a_first_bulk_write(engine: Engine) -> None:
    """On PostgreSQL a page written into a never-analysed findings table triggers ANALYZE."""
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are a PostgreSQL concern")
    run = start_run(engine)
    seed(engine, [asset("1")], [finding(str(i)) for i in range(1200)], run)
    with engine.connect() as conn:
        estimate = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'findings'::regclass"
        ).scalar_one()
    assert estimate >= 1200


def test_postgres_statistics_are_refreshed_as_the_table_doubles(engine: Engine) -> None:
    """Statistics taken at the first page are renewed once the table has more than doubled
    (and not on every page): the planner sees the table it plans for."""
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are a PostgreSQL concern")
    run = start_run(engine)
    seed(engine, [asset("1")], [finding(str(i)) for i in range(1000)], run)

    def analysed_rows() -> float:
        with engine.connect() as conn:
            return float(
                conn.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE oid = 'findings'::regclass"
                ).scalar_one()
            )

    first = analysed_rows()
    seed(engine, [], [finding(str(i)) for i in range(1000, 1500)], run)
    assert analysed_rows() == first  # grew by half: the statistics still hold
    for start in range(1500, 4000, 500):
        seed(engine, [], [finding(str(i)) for i in range(start, start + 500)], run)
    assert analysed_rows() >= 2500
