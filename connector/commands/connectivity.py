"""`connector test-connectivity [--json]`: check config, Qualys and the database; write nothing."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from connector.commands.context import CommandContext
from connector.connectivity import CheckResult, exit_code_for, run_checks
from connector.store.database import create_engine_for

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check, in order: the configuration is valid; the Qualys API server resolves "
        "and accepts a TLS connection (through qualys.proxy if set); the credentials are "
        "accepted; the user can search WAS web apps and findings; the user can read the "
        "KnowledgeBase (when sync.pull_knowledge_base); the database is reachable and its "
        "schema current. Prints one line per check and a verdict. Exit 0 when every check "
        "passes, 2 for configuration errors, 3 when Qualys refuses or cannot be reached, "
        "1 for other failures."
    )
    parser.add_argument(
        "--json", action="store_true", help="print the checks and the verdict as one JSON object"
    )
    parser.set_defaults(handler=handle)


def handle(
    args: argparse.Namespace,
    ctx: CommandContext,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    engine_factory: Callable[[str], Engine] = create_engine_for,
) -> int:
    """Run the checks; `transport`, `sleep` and `engine_factory` are for tests."""
    results = run_checks(
        ctx.config, transport=transport, sleep=sleep, engine_factory=engine_factory
    )
    code = exit_code_for(results)
    if args.json:
        payload = {
            "ok": code == 0,
            "exit_code": int(code),
            "checks": [r.as_dict() for r in results],
        }
        print(json.dumps(payload, indent=2), file=ctx.stdout)
    else:
        for result in results:
            print(_line(result), file=ctx.stdout)
        print(_verdict(results), file=ctx.stdout)
    return int(code)


def _line(result: CheckResult) -> str:
    if result.warning:
        return f"{result.name:<15} warning: {result.detail}"
    if result.ok:
        return f"{result.name:<15} ok: {result.detail}"
    if result.skipped:
        return f"{result.name:<15} skipped: {result.detail}"
    return f"{result.name:<15} FAILED: {result.detail}"


def _verdict(results: list[CheckResult]) -> str:
    failed = [r.name for r in results if not r.ok and not r.skipped]
    passed = sum(r.ok for r in results)
    warnings = sum(r.warning for r in results)
    if not failed:
        noted = f" ({warnings} with a warning)" if warnings else ""
        return f"connectivity OK: {passed} check(s) passed{noted}"
    return f"connectivity FAILED: {', '.join(failed)} ({passed} passed)"
