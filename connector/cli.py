"""The `connector` command line: parse, dispatch to a subcommand, turn errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from connector.commands import (
    COMMAND_MODULES,
)
from connector.commands.context import CommandContext
from connector.errors import ConnectorError
from connector.logsetup import configure_logging

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the command failed (the reason is printed in one line)
  2  configuration error (every problem is listed)
  3  Qualys refused the credentials or could not be reached
  4  a sync is already running for this connector
  5  validate: Qualys and the store disagree
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connector",
        description="Pull Qualys WAS web applications and findings into your own SQL database.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $CONNECTOR_CONFIG, then ./config.toml)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = CommandContext(
        environ=dict(os.environ) if environ is None else environ,
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        config_path=args.config,
        debug=args.debug,
    )
    # Until a command loads its config (which names the format and level), log plainly.
    configure_logging("auto", "debug" if args.debug else "info", stream=ctx.stderr)
    try:
        return int(args.handler(args, ctx))
    except ConnectorError as exc:
        if ctx.debug:
            logging.getLogger("connector").exception("command failed")
        print(f"error: {exc}", file=ctx.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=ctx.stderr)
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
