"""Subcommands: the name, the one-line help and the module of each. A module has
`register(parser)`, which adds its description and arguments to its parser and sets
`handler=<function(args, ctx) -> int>` as a default.

Only the module of the command being run is imported (`connector --help` imports none), so a
command's module may import what it needs at the top: the CLI still starts at once.
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "test-connectivity": (
        "connector.commands.connectivity",
        "check the configuration, Qualys access and the database, writing nothing",
    ),
    "db": (
        "connector.commands.db",
        "show or migrate the database schema",
    ),
    "sync": (
        "connector.commands.sync",
        "run one sync from Qualys WAS into the database now",
    ),
    "export": (
        "connector.commands.export",
        "export assets, findings or weaknesses (JSON Lines, CSV, JSON, DefectDojo, OCSF)",
    ),
    "validate": (
        "connector.commands.validate",
        "compare Qualys' web app and open-finding counts with the store",
    ),
    "simulate": (
        "connector.commands.simulate",
        "run a local Qualys WAS + KnowledgeBase simulator with generated data",
    ),
    "demo": (
        "connector.commands.demo",
        "sync the built-in Qualys simulator into SQLite and show the result",
    ),
    "serve": (
        "connector.commands.serve",
        "run as a daemon: scheduled syncs plus /healthz, /readyz and /metrics",
    ),
    "import": (
        "connector.commands.importing",
        "import a Qualys WAS report (CSV or XML) or a flat CSV through a mapping",
    ),
    "mappings": (
        "connector.commands.mappings",
        "list, show, create or delete import mappings",
    ),
    "scans": (
        "connector.commands.scans",
        "list the imported scan files, or show what one import did",
    ),
    "runs": (
        "connector.commands.runs",
        "list the recorded syncs and imports",
    ),
    "web": (
        "connector.commands.web",
        "serve the web console alone (no scheduled syncs)",
    ),
}
