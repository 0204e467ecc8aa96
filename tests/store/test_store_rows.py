"""Rows are derived from the models: every model field is a column, and the digest covers it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from connector.models import Asset, Finding, Weakness
from connector.store.rows import digest, row_values
from connector.store.schema import assets, findings, weaknesses
from tests.store.storefactories import asset, finding


@pytest.mark.parametrize(
    ("model", "table"), [(Asset, assets), (Finding, findings), (Weakness, weaknesses)]
)
def test_every_model_field_is_a_column(model: type, table: sa.Table) -> None:
    """A field added to a model without a column (or renamed) fails here, not in a sync."""
    missing = {f.name for f in dataclasses.fields(model)} - set(table.c.keys())
    assert not missing


def test_the_digest_changes_with_every_field() -> None:
    """Changing any one field of a finding changes its digest, so the row is rewritten."""
    base = finding("1", unique_id="u", qid=150001, url="https://a/", param="q", cwes=(79,))
    before = digest(row_values(base))
    changes = {
        "key": "2",
        "asset_key": "9",
        "name": "other",
        "unique_id": "v",
        "qid": 150002,
        "url": "https://b/",
        "param": "p",
        "cwes": (80,),
        "first_seen": datetime(2020, 1, 1, tzinfo=UTC),
        "ports": (8443,),
        "evidence": "x",
        "source": "import",
    }
    for name, value in changes.items():
        changed = dataclasses.replace(base, **{name: value})
        assert digest(row_values(changed)) != before, name


def test_row_values_are_plain_column_values() -> None:
    """Enums become their values and attribute tables are sorted, so equal records hash alike."""
    values = row_values(asset("1", attributes={"b": "2", "a": "1"}))
    assert list(values["attributes"]) == ["a", "b"]
    values = row_values(finding("1"))
    assert values["status"] == "Active" and type(values["status"]) is str
    assert digest(row_values(finding("1"))) == digest(row_values(finding("1")))


def test_a_stored_finding_reads_back_equal(engine: sa.Engine) -> None:
    """row_values and model_from_row are inverses through the database (enums, tuples, dates)."""
    from connector.models import RunKind
    from connector.store import assets as store_assets
    from connector.store import finding_reads
    from connector.store import findings as store_findings
    from connector.store import runs as store_runs
    from tests.store.storefactories import CONNECTOR, NOW

    original = finding(
        "7",
        cwes=(79, 80),
        owasp=("Injection",),
        ports=(443, 8443),
        first_seen=NOW,
        listing_digest="ab" * 16,
        evidence="e",
    )
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, [asset("1")], now=NOW)
        run = store_runs.start_run(conn, CONNECTOR, RunKind.SYNC, now=NOW, host="h", pid=1)
        store_findings.upsert_findings(conn, CONNECTOR, [original], run_id=run, now=NOW, reason="t")
        (loaded,) = finding_reads.load_findings_by_keys(conn, CONNECTOR, ["7"])
    assert loaded == original
    assert digest(row_values(loaded)) == digest(row_values(original))  # a reload writes nothing
