"""`connector demo`: the newcomer's first run works end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

from connector.cli import main


def test_demo_syncs_twice_and_exports(tmp_path: Path) -> None:
    """The demo syncs the simulator into SQLite, fixes two findings on the second sync, and exports."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "demo",
            "--database",
            f"sqlite:///{tmp_path / 'demo.db'}",
            "--webapps",
            "3",
            "--findings",
            "200",
        ],
        environ={},
        stdout=out,
        stderr=err,
    )
    text = out.getvalue()
    assert code == 0, err.getvalue()
    assert "sync 1 succeeded" in text
    assert "sync 2 succeeded" in text
    assert "fixed by Qualys status: 1, absent from Qualys: 1" in text
    exported = [json.loads(line) for line in text.splitlines() if line.startswith('{"connector"')]
    assert len(exported) == 3
    assert all(record["source"] == "api" for record in exported)
    assert (tmp_path / "demo.db").exists()
    assert "CONNECTOR_WEB_PASSWORD" in text and "http://127.0.0.1:8080" in text, "the console hint"
