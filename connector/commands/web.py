"""`connector web`: serve the web console alone (no scheduled syncs); and the console's wiring,
which `connector serve` uses to run it beside health and metrics."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from connector.commands.context import CommandContext, protect_secrets
from connector.config import MISSING_WEB_PASSWORD, Config, load_config, resolve_config_path
from connector.connectivity import CheckResult, run_checks
from connector.errors import ConfigError, ExitCode
from connector.qualys.client import QualysClient
from connector.service.scheduler import next_runs
from connector.store import search
from connector.store.database import create_engine_for, ensure_schema
from connector.validate import ValidationReport, validate
from connector.web.app import create_app
from connector.web.server import ConsoleServer
from connector.web.state import Console

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve the web console on [web] listen (default 127.0.0.1:8080) until "
        "SIGINT/SIGTERM: findings, assets, weaknesses, runs, imports and mappings, with "
        "filters and downloads; scan imports; test connectivity and validation. Log in as "
        "[web] username with the password from CONNECTOR_WEB_PASSWORD or [web] password_file; "
        "without a password it exits 2 (there is no unauthenticated mode). Needs no Qualys "
        "credentials except for its Connectivity and Validate pages. `connector serve` runs the "
        "same console beside its scheduler."
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    if config.web.password is None:
        raise ConfigError([MISSING_WEB_PASSWORD])
    engine = create_engine_for(config.database_url)
    console = build_console(config, engine, load_config=config_loader(ctx))
    try:
        ensure_schema(engine)
        _say_if_search_unindexed(engine)
        server = ConsoleServer(create_app(console), config.web.host, config.web.port)
        server.serve_forever()
    finally:
        console.uploads.close()
        engine.dispose()
    log.info("web console stopped")
    return int(ExitCode.OK)


def config_loader(ctx: CommandContext) -> Callable[[], Config]:
    """Read the configuration afresh, Qualys credentials required (for the Qualys checks)."""

    def load() -> Config:
        config = load_config(resolve_config_path(ctx.config_path, ctx.environ), ctx.environ)
        protect_secrets(config)
        return config

    return load


def build_console(
    config: Config,
    engine: Engine,
    *,
    load_config: Callable[[], Config],
    next_sync: Callable[[], datetime | None] | None = None,
) -> Console:
    """The console over `engine`; without `next_sync` (no scheduler here) the schedule's next
    time is shown as what `connector serve` would do."""

    def check_connectivity() -> list[CheckResult]:
        return run_checks(load_config)

    def run_validation() -> ValidationReport:
        fresh = load_config()
        with QualysClient(fresh.qualys) as client:
            return validate(fresh, engine, client)

    def by_schedule() -> datetime | None:
        upcoming = next_runs(config.schedule, datetime.now(UTC), 1)
        return upcoming[0] if upcoming else None

    return Console(
        engine=engine,
        config=config,
        check_connectivity=check_connectivity,
        run_validation=run_validation,
        next_sync=next_sync or by_schedule,
        scheduler_here=next_sync is not None,
    )


def start_console(
    config: Config,
    engine: Engine,
    *,
    load_config: Callable[[], Config],
    next_sync: Callable[[], datetime | None],
) -> tuple[ConsoleServer, Console] | None:
    """For `connector serve`: the console in a background thread, or None (and one log line
    saying why) when no web password is set."""
    if config.web.password is None:
        log.info("web console off: %s", MISSING_WEB_PASSWORD)
        return None
    console = build_console(config, engine, load_config=load_config, next_sync=next_sync)
    _say_if_search_unindexed(engine)
    server = ConsoleServer(create_app(console), config.web.host, config.web.port)
    server.start()
    return server, console


def _say_if_search_unindexed(engine: Engine) -> None:
    with engine.connect() as conn:
        search.warn_if_unindexed(conn)


def stop_console(started: tuple[ConsoleServer, Console] | None) -> None:
    if started is not None:
        server, console = started
        server.stop()
        console.uploads.close()
