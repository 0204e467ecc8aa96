"""Runs, connector state and the Knowledge Base rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from storefactories import CONNECTOR, LATER, NOW, rows, start_run

from connector.models import RunKind, RunOutcome, Weakness
from connector.store import runs as store_runs
from connector.store import weaknesses as store_weaknesses
from connector.store.schema import sync_runs, weaknesses


def test_run_lifecycle_is_recorded(engine: Engine) -> None:
    """start_run records a running run; finish_run its outcome, counts and error; last_run reads it back."""
    run = start_run(engine)
    with engine.begin() as conn:
        running = store_runs.last_run(conn, CONNECTOR)
        assert running is not None
        assert (running.id, running.outcome, running.finished_at, running.host, running.pid) == (
            run,
            RunOutcome.RUNNING,
            None,
            "test-host",
            4242,
        )
        store_runs.finish_run(
            conn,
            run,
            outcome=RunOutcome.SUCCEEDED,
            now=LATER,
            counts={"fetched": 10, "skipped": {"no asset": 1}},
            api_calls=7,
            retries=2,
            error=None,
        )
        done = store_runs.last_run(conn, CONNECTOR, RunKind.SYNC)
    assert done is not None
    assert (done.outcome, done.started_at, done.finished_at) == (RunOutcome.SUCCEEDED, NOW, LATER)
    assert (done.counts, done.api_calls, done.retries, done.kind) == (
        {"fetched": 10, "skipped": {"no asset": 1}},
        7,
        2,
        RunKind.SYNC,
    )


def test_last_success_ignores_failures_and_other_kinds(engine: Engine) -> None:
    """last_success_at is the finish time of the latest succeeded run of that kind."""
    ok, failed, imported = (
        start_run(engine),
        start_run(engine, now=LATER),
        start_run(engine, RunKind.IMPORT, now=LATER),
    )
    with engine.begin() as conn:
        assert store_runs.last_success_at(conn, CONNECTOR) is None
        for run, outcome in (
            (ok, RunOutcome.SUCCEEDED),
            (failed, RunOutcome.FAILED),
            (imported, RunOutcome.SUCCEEDED),
        ):
            end = (NOW if run == ok else LATER) + timedelta(minutes=5)
            store_runs.finish_run(
                conn, run, outcome=outcome, now=end, counts={}, api_calls=0, retries=0, error=None
            )
        assert store_runs.last_success_at(conn, CONNECTOR) == NOW + timedelta(minutes=5)
        assert store_runs.last_success_at(conn, CONNECTOR, RunKind.IMPORT) == LATER + timedelta(
            minutes=5
        )
        last = store_runs.last_run(conn, CONNECTOR, RunKind.SYNC)
        assert last is not None and last.id == failed
        assert store_runs.last_run(conn, "nobody") is None


def test_stale_running_runs_are_abandoned(engine: Engine) -> None:
    """Runs still running are marked abandoned with an explanation; finished ones are untouched."""
    stale, done = start_run(engine), start_run(engine)
    with engine.begin() as conn:
        store_runs.finish_run(
            conn,
            done,
            outcome=RunOutcome.FAILED,
            now=NOW,
            counts={},
            api_calls=0,
            retries=0,
            error="boom",
        )
        assert store_runs.abandon_stale_runs(conn, CONNECTOR, now=LATER) == 1
        assert store_runs.abandon_stale_runs(conn, CONNECTOR, now=LATER) == 0
    by_id = {r["id"]: r for r in rows(engine, sync_runs)}
    assert (by_id[stale]["outcome"], by_id[stale]["finished_at"]) == ("abandoned", LATER)
    assert by_id[stale]["error"] == "the process ended before the run finished"
    assert (by_id[done]["outcome"], by_id[done]["error"]) == ("failed", "boom")


def test_state_values_are_replaced(engine: Engine) -> None:
    """set_state stores a value per name and connector; a second set replaces it."""
    with engine.begin() as conn:
        assert store_runs.get_state(conn, CONNECTOR, "kb_refreshed_at") is None
        store_runs.set_state(conn, CONNECTOR, "kb_refreshed_at", "2025-01-01", now=NOW)
        store_runs.set_state(conn, CONNECTOR, "kb_refreshed_at", "2025-02-01", now=LATER)
        assert store_runs.get_state(conn, CONNECTOR, "kb_refreshed_at") == "2025-02-01"
        assert store_runs.get_state(conn, "other", "kb_refreshed_at") is None


def test_weaknesses_known_and_unknown(engine: Engine) -> None:
    """Known KB entries are written in full, unknown QIDs as known=False rows that never erase a known one."""
    entry = Weakness(
        qid=150001, title="XSS", cves=("CVE-2024-1",), cvss_v3_base=6.1, published_date=NOW
    )
    with engine.begin() as conn:
        assert (
            store_weaknesses.upsert_weaknesses(conn, CONNECTOR, [entry], [150002, 150003], now=NOW)
            == 3
        )
        assert store_weaknesses.load_weakness_cvss(conn, CONNECTOR) == {
            150001: 6.1,
            150002: None,
            150003: None,
        }
        # a later refresh misses 150001: its stored entry survives; 150002 becomes known
        assert (
            store_weaknesses.upsert_weaknesses(
                conn,
                CONNECTOR,
                [Weakness(qid=150002, cvss_v3_base=9.0)],
                [150001, 150003],
                now=LATER,
            )
            == 1
        )
        assert store_weaknesses.load_weakness_cvss(conn, CONNECTOR) == {
            150001: 6.1,
            150002: 9.0,
            150003: None,
        }
    stored = {r["qid"]: r for r in rows(engine, weaknesses)}
    assert (stored[150001]["known"], stored[150001]["title"], stored[150001]["cves"]) == (
        True,
        "XSS",
        ["CVE-2024-1"],
    )
    assert (stored[150003]["known"], stored[150003]["cves"], stored[150003]["fetched_at"]) == (
        False,
        [],
        NOW,
    )
    assert stored[150001]["published_date"] == NOW
