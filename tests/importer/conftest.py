"""Fixtures for import tests: run `connector` commands against the per-dialect test database."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.cli import main
from connector.store.schema import (
    assets,
    finding_events,
    findings,
    import_mappings,
    imported_scan_assets,
    imported_scans,
    sync_runs,
    weaknesses,
)

CONNECTOR = "qualys-was"
CSV_SAMPLE = "was_scan_report_584455.csv"
XML_SAMPLE = "was_scan_report_one_vuln.xml"
# Every Qualys WAS report fixture, by its path below the samples directory.
REPORTS = (
    CSV_SAMPLE,
    XML_SAMPLE,
    "reports/was_scan_report_glossary_cvss3.xml",
    "reports/was_scan_report_many_vuln.xml",
    "reports/was_scan_report_no_vuln.xml",
    "reports/was_scan_report_post_body.xml",
)
XML_REPORTS = tuple(r for r in REPORTS if r.endswith(".xml"))
# What a user sees of a finding row (not when the connector wrote it).
ROW_COLUMNS = tuple(
    c.name
    for c in findings.columns
    if c.name not in ("created_at", "updated_at", "content_hash", "input_digest")
)


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    engine: Engine
    db_url: str
    tmp: Path

    def run(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        environ = {
            "CONNECTOR_DATABASE_URL": self.db_url,
            "QUALYS_USERNAME": "tester",
            "QUALYS_PASSWORD": "not-used",
            "CONNECTOR_CONFIG": str(self.tmp / "absent-is-fine.toml"),
        }
        (self.tmp / "absent-is-fine.toml").write_text("", encoding="utf-8")
        code = main(list(args), environ=environ, stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    def counts(self) -> dict[str, int]:
        """Rows per table that an import writes."""
        with self.engine.connect() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (assets, findings, finding_events, imported_scans, sync_runs)
            }

    def findings(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(findings)).mappings()
            return {row["key"]: dict(row) for row in rows}

    def rows(self) -> dict[str, tuple[Any, ...]]:
        """Each finding's user-visible columns (ROW_COLUMNS), by key."""
        return {k: tuple(f[c] for c in ROW_COLUMNS) for k, f in self.findings().items()}

    def weaknesses(self) -> dict[int, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r["qid"]: dict(r) for r in conn.execute(sa.select(weaknesses)).mappings()}

    def wipe(self) -> None:
        """Empty every table an import writes (to import another file into a fresh store)."""
        with self.engine.begin() as conn:
            for table in (
                finding_events, findings, imported_scan_assets, imported_scans, sync_runs,
                weaknesses, assets,
            ):  # fmt: skip
                conn.execute(sa.delete(table))

    def assets(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {row["key"]: dict(row) for row in conn.execute(sa.select(assets)).mappings()}

    def mappings_rows(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(import_mappings)
            return int(conn.execute(query).scalar_one())


@pytest.fixture
def cli(engine: Engine, db_url: str, tmp_path: Path) -> Cli:
    """Runs `connector ...` through cli.main against this test's database."""
    return Cli(engine, db_url, tmp_path)


Transform = Callable[[list[list[str]]], list[list[str]]]


@pytest.fixture
def variant(samples: Path, tmp_path: Path) -> Callable[[str, Transform], Path]:
    """Writes a variant of the CSV sample report (every record through a transform) to tmp."""

    def write(name: str, transform: Transform) -> Path:
        with (samples / CSV_SAMPLE).open(encoding="utf-8-sig", newline="") as fh:
            records = list(csv.reader(fh))
        dest = tmp_path / name
        with dest.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerows(transform(records))
        return dest

    return write
