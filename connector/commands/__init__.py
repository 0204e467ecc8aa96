"""Subcommands. Each module has `register(subparsers)`, which adds its parser and sets
`handler=<function(args, ctx) -> int>` as a default. Add new modules to COMMAND_MODULES."""

from types import ModuleType

from connector.commands import (
    connectivity,
    db,
    demo,
    export,
    importing,
    mappings,
    scans,
    serve,
    simulate,
    sync,
    validate,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    connectivity,
    db,
    sync,
    export,
    validate,
    simulate,
    demo,
    serve,
    importing,
    mappings,
    scans,
)
