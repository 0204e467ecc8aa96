"""Subcommands. Each module has `register(subparsers)`, which adds its parser and sets
`handler=<function(args, ctx) -> int>` as a default. Add new modules to COMMAND_MODULES."""

from types import ModuleType

from connector.commands import connectivity, db, export, serve, simulate, sync, validate
from connector.commands import importing, mappings, scans

COMMAND_MODULES: tuple[ModuleType, ...] = (
    connectivity,
    db,
    sync,
    export,
    validate,
    simulate,
    serve,
    importing,
    mappings,
    scans,
)
