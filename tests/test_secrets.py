"""No secret ever: the Qualys password never appears in output, logs, exports or the database,
whether the sync succeeds or Qualys refuses the login."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from connector.simulator import Dataset, RunningServer, Simulator, serve_in_thread
from connector.store.schema import metadata
from tests.support import USERNAME, run_cli, write_config

PASSWORD = "Zq9!pW-s3cr3t_%&=+/Äx"
WRONG = "Wr0ng!pW-gu3ss_%&=+/Öy"


def forms(secret: str) -> list[str]:
    """The secret as it could leak: raw, URL-encoded, JSON-escaped, inside Basic auth."""
    basic = base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()
    return [secret, quote(secret), quote_plus(secret), json.dumps(secret)[1:-1], basic]


def assert_clean(text: str, where: str) -> None:
    for secret in (PASSWORD, WRONG):
        for form in forms(secret):
            assert form not in text, f"{form!r} leaked into {where}"


@pytest.fixture
def served() -> Iterator[RunningServer]:
    dataset = Dataset.generate(webapps=4, findings=120, seed=11, now=datetime.now(UTC))
    sim = Simulator(dataset, username=USERNAME, password=PASSWORD)
    with serve_in_thread(sim) as running:
        yield running


def cli(argv: list[str], config: Path, password: str = PASSWORD) -> tuple[int, str]:
    """The CLI's exit code and everything it wrote (stdout and stderr together)."""
    result = run_cli(argv, config, password)
    return result.code, result.stdout + result.stderr


def dump_database(engine: Engine) -> str:
    """Every row of every table, as text."""
    lines = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def test_password_never_appears_anywhere(
    served: RunningServer, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Sync, a refused sync, test-connectivity, validate and every export, with JSON debug logs:
    the password shows up in none of stdout, stderr/logs, export files or database rows."""
    config = write_config(
        tmp_path,
        served.base_url,
        db_url,
        extra='[service]\nlog_format = "json"\nlog_level = "debug"\n',
    )
    outputs: dict[str, str] = {}
    code, outputs["sync"] = cli(["sync", "--no-progress"], config)
    assert code == 0, outputs["sync"]
    assert '"level"' in outputs["sync"] or '"message"' in outputs["sync"]  # JSON log lines
    code, outputs["refused sync"] = cli(["sync", "--no-progress"], config, password=WRONG)
    assert code == 3
    assert "rejected the credentials" in outputs["refused sync"]
    code, outputs["test-connectivity"] = cli(["test-connectivity"], config)
    assert code in (0, 1, 3)
    code, outputs["refused test-connectivity"] = cli(["test-connectivity"], config, password=WRONG)
    assert code != 0
    code, outputs["validate"] = cli(["validate", "--json"], config)
    assert code == 0, outputs["validate"]
    for kind in ("assets", "findings", "weaknesses"):
        for fmt in ("jsonl", "csv", "json"):
            target = tmp_path / f"{kind}.{fmt}"
            code, outputs[f"export {kind} {fmt}"] = cli(
                ["export", kind, "--format", fmt, "--output", str(target)], config
            )
            assert code == 0
            outputs[f"file {target.name}"] = target.read_text(encoding="utf-8")
    assert len(outputs["file findings.jsonl"].splitlines()) > 50
    for where, text in outputs.items():
        assert_clean(text, where)
    database = dump_database(engine)
    assert "sync_runs" in database
    assert "findings" in database
    assert_clean(database, "the database")
