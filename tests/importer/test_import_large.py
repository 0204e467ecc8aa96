"""A large file's import: read in a worker process while this one writes (same result as in
process), with progress reported as log lines when there is no terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.commands import importing
from connector.importer import pipeline

from .conftest import CSV_SAMPLE, Cli

pytestmark = pytest.mark.shared


@pytest.mark.parametrize("report", [CSV_SAMPLE, "reports/was_scan_report_many_vuln.xml"])
def test_a_worker_process_reads_what_this_process_would(
    cli: Cli, samples: Path, report: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the report read by a worker process the store ends up exactly as without one."""
    monkeypatch.setattr(pipeline, "WORKER_MIN_BYTES", 10**12)
    assert cli.run("import", str(samples / report)).code == 0
    in_process = cli.rows()
    cli.wipe()
    monkeypatch.setattr(pipeline, "WORKER_MIN_BYTES", 0)
    result = cli.run("import", str(samples / report))
    assert result.code == 0, result.err
    assert cli.rows() == in_process


def test_a_bad_row_read_in_the_worker_is_reported_as_one_line(
    cli: Cli, tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the worker meets comes back as the import's one-line error; nothing written."""
    data = (samples / CSV_SAMPLE).read_text(encoding="utf-8-sig")
    report = tmp_path / "bad.csv"
    report.write_text(data.replace('"2111146","150004"', '"2111146","x150004"'), encoding="utf-8")
    monkeypatch.setattr(pipeline, "WORKER_MIN_BYTES", 0)
    result = cli.run("import", str(report))
    assert result.code == 1
    assert "column 'QID': 'x150004' is not a QID" in result.err
    assert cli.counts()["findings"] == 0


def test_progress_is_logged_without_a_terminal(
    cli: Cli, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal a large import logs how much of the file it has read."""
    monkeypatch.setattr(importing, "PROGRESS_MIN_BYTES", 0)
    result = cli.run("import", str(samples / CSV_SAMPLE))
    assert result.code == 0, result.err
    assert f"import: checking {CSV_SAMPLE}: 100% read" in result.err
    assert f"import: importing {CSV_SAMPLE}: 100% read" in result.err
