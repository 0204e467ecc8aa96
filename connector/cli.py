"""The `connector` command line: parse, dispatch to a subcommand, turn errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Collection, Sequence
from typing import BinaryIO, TextIO

from connector.commands import COMMANDS
from connector.commands.context import CommandContext
from connector.errors import ConnectorError, ExitCode
from connector.logsetup import configure_logging

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the command failed (the reason is printed in one line)
  2  configuration error (every problem is listed)
  3  Qualys refused the credentials or could not be reached
  4  a sync is already running for this connector
  5  validate: Qualys and the store disagree
"""


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `commands`, only those subcommands get their arguments (and only their
    modules are imported); every subcommand is listed with its help either way."""
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
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if commands is None or name in commands:
            importlib.import_module(module).register(command)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: BinaryIO | None = None,
) -> int:
    """Run one command; returns the process exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    command = chosen_command(words)
    parser = build_parser([command] if command else [])
    args = parser.parse_args(words)
    ctx = CommandContext(
        environ=dict(os.environ) if environ is None else environ,
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        config_path=args.config,
        debug=args.debug,
        stdin=stdin,
    )
    # Until a command loads its config (which names the format and level), log plainly.
    configure_logging("auto", "debug" if args.debug else "info", stream=ctx.stderr)
    try:
        code = int(args.handler(args, ctx))
        ctx.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # `connector export findings | head -1`: the reader has what it wanted; end quietly.
        _discard_stdout(ctx.stdout)
        return int(ExitCode.OK)
    except ConnectorError as exc:
        if ctx.debug:
            logging.getLogger("connector").exception("command failed")
        print(f"error: {exc}", file=ctx.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=ctx.stderr)
        return 130
    return code


def _discard_stdout(stream: TextIO) -> None:
    """Point the closed pipe's descriptor at /dev/null, so Python's final flush of the buffered
    rest raises nothing (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests pass StringIO)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
