"""The CLI starts at once: `connector --help` imports no command module and no heavy library,
and a command imports only its own module (timings are in no test; this checks the cause)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "httpx", "rich", "lxml", "alembic", "apscheduler", "starlette", "uvicorn")

PROBE = """
import json, sys
from connector.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m.startswith("connector.commands."))))
"""


def imported_after(*argv: str) -> list[str]:
    code = PROBE.replace("{heavy}", repr(set(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_command_and_no_heavy_library() -> None:
    """`connector --help` lists every command without importing any of their modules."""
    assert imported_after("--help") == ["connector.commands.context"]


@pytest.mark.parametrize("command", ["sync", "export"])
def test_a_commands_help_imports_only_that_command(command: str) -> None:
    """`connector <command> --help` imports its own module, not the other commands'."""
    commands = [m for m in imported_after(command, "--help") if m.startswith("connector.commands")]
    assert f"connector.commands.{command}" in commands
    others = {f"connector.commands.{c}" for c in ("web", "demo", "simulate", "serve")}
    assert not others & set(commands) - {f"connector.commands.{command}"}
