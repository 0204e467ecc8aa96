"""Findings an earlier import created and a newer report no longer contains become Fixed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.store.schema import finding_events

from .conftest import CSV_SAMPLE, Cli, Transform

pytestmark = pytest.mark.shared
GONE = {"78419248", "78419220"}


def _newer_without_two(rows: list[list[str]]) -> list[list[str]]:
    """The same report scanned a day later, without two of its vulnerabilities."""
    out = []
    for row in rows:
        if row[:1] == ["VULNERABILITY"] and row[1] in GONE:
            continue
        out.append([cell.replace("24 Apr 2019", "25 Apr 2019") for cell in row])
    return out


def test_newer_report_closes_absent_findings(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """The two findings missing from the newer report are Fixed with the report as the reason."""
    newer = variant("newer.csv", _newer_without_two)
    assert cli.run("import", str(samples / CSV_SAMPLE)).code == 0
    result = cli.run("import", str(newer))
    assert result.code == 0, result.err
    found = cli.findings()
    assert {k for k, f in found.items() if f["status"] == "Fixed"} == GONE
    reason = found["78419220"]["fixed_reason"]
    assert reason == "absent from scan report newer.csv (2019-04-25 02:47 UTC)"
    assert "2 marked Fixed" in result.out
    with cli.engine.connect() as conn:
        events = conn.execute(
            sa.select(finding_events.c.to_status).where(finding_events.c.finding_key == "78419220")
        ).scalars()
        assert list(events) == ["Active", "Fixed"]


def test_no_close_keeps_absent_findings_active(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """With --no-close the findings missing from the newer report stay Active."""
    newer = variant("newer.csv", _newer_without_two)
    cli.run("import", str(samples / CSV_SAMPLE))
    result = cli.run("import", str(newer), "--no-close")
    assert result.code == 0, result.err
    assert {f["status"] for f in cli.findings().values()} == {"Active"}
    assert "--no-close" in result.out


def test_older_report_imported_later_closes_nothing(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """Importing an older report after a newer one does not close what the older one lacks."""
    newer = variant("newer.csv", _newer_without_two)
    cli.run("import", str(newer))
    older = variant("older_subset.csv", lambda rows: [r for r in rows if r[1:2] != ["78419250"]])
    result = cli.run("import", str(older))
    assert result.code == 0, result.err
    assert "0 marked Fixed" in result.out
    assert "newer report" in result.out
    assert {f["status"] for f in cli.findings().values()} == {"Active"}


def test_reappearing_finding_becomes_active_again(
    cli: Cli, samples: Path, variant: Callable[[str, Transform], Path]
) -> None:
    """A finding closed as absent is Active again when a still newer report contains it."""
    newer = variant("newer.csv", _newer_without_two)
    newest = variant(
        "newest.csv",
        lambda rows: [[c.replace("24 Apr 2019", "26 Apr 2019") for c in r] for r in rows],
    )
    cli.run("import", str(samples / CSV_SAMPLE))
    cli.run("import", str(newer))
    result = cli.run("import", str(newest))
    assert result.code == 0, result.err
    found = cli.findings()
    assert found["78419220"]["status"] == "Active"
    assert found["78419220"]["fixed_reason"] is None
