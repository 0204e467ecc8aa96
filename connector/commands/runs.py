"""`connector runs list`: the syncs and imports recorded in the database, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from connector.commands.context import CommandContext
from connector.mapping import format_datetime
from connector.models import RunKind, RunOutcome
from connector.store import runs as store_runs
from connector.store.database import open_existing
from connector.store.runs import RunRecord

# Counts worth a column in the table, in this order, when a run has them (syncs and imports
# record different ones); --json prints every count.
SUMMARY_COUNTS = (
    ("findings_created", "created"), ("findings_updated", "updated"),
    ("findings_fixed_by_qualys", "fixed by Qualys"), ("findings_fixed_absent", "fixed absent"),
    ("assets_archived", "assets archived"), ("created", "created"), ("updated", "updated"),
    ("fixed", "fixed"), ("skipped", "skipped"),
)  # fmt: skip


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The syncs and imports this connector recorded, newest first: when, how "
        "long, how they ended, what they changed and why one failed. Reads the database only."
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the recorded runs, newest first")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    listing.add_argument(
        "--kind", type=_enum(RunKind), help="only syncs or only imports (sync, import)"
    )
    listing.add_argument(
        "--outcome",
        type=_enum(RunOutcome),
        help="only runs that ended so: " + ", ".join(o.value for o in RunOutcome),
    )
    listing.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.set_defaults(handler=handle)


def _enum(kind: type[RunKind] | type[RunOutcome]) -> Any:
    def parse(text: str) -> RunKind | RunOutcome:
        for member in kind:
            if member.value == text.strip().lower():
                return member
        choices = ", ".join(m.value for m in kind)
        raise argparse.ArgumentTypeError(f"unknown value {text!r} (choose from {choices})")

    return parse


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    engine = open_existing(config.database_url)  # reading never creates or migrates a database
    try:
        with engine.connect() as conn:
            runs = store_runs.recent_runs(
                conn,
                config.connector_name,
                limit=max(1, args.limit),
                kind=args.kind,
                outcome=args.outcome,
            )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([as_json(run) for run in runs], indent=2), file=ctx.stdout)
        return 0
    if not runs:
        print("no runs recorded yet: `connector sync` records the first", file=ctx.stdout)
        return 0
    print("id    kind    started               took  outcome      what changed", file=ctx.stdout)
    for run in runs:
        took = (
            f"{(run.finished_at - run.started_at).total_seconds():.0f}s"
            if run.finished_at is not None
            else "-"
        )
        detail = run.error if run.error else summary(run.counts)
        print(
            f"{run.id:<5} {run.kind.value:<7} {run.started_at:%Y-%m-%d %H:%M:%S}  {took:>5}  "
            f"{run.outcome.value:<11}  {detail}",
            file=ctx.stdout,
        )
    return 0


def summary(counts: dict[str, Any]) -> str:
    parts = [
        f"{counts[key]} {label}"
        for key, label in SUMMARY_COUNTS
        if isinstance(counts.get(key), int) and counts[key]
    ]
    return ", ".join(parts) or "no changes"


def as_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind.value,
        "started_at": format_datetime(run.started_at),
        "finished_at": format_datetime(run.finished_at) if run.finished_at else None,
        "outcome": run.outcome.value,
        "counts": run.counts,
        "api_calls": run.api_calls,
        "retries": run.retries,
        "error": run.error,
        "host": run.host,
        "pid": run.pid,
    }
