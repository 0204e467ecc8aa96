"""`connector serve`: the long-running daemon (scheduled syncs, health and metrics, signals)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from connector.commands.context import CommandContext
from connector.commands.sync import LogProgress
from connector.commands.web import config_loader, start_console, stop_console
from connector.config import Config
from connector.errors import ConnectorError, ExitCode, StoreError
from connector.logsetup import log_context
from connector.models import RunKind, RunOutcome
from connector.qualys.client import QualysClient
from connector.service.health import HealthServer, store_readiness, sync_details
from connector.service.metrics import ServiceMetrics
from connector.service.scheduler import Daemon
from connector.service.shutdown import DEFAULT_GRACE_SECONDS, SignalWatch, run_until_signalled
from connector.store import assets as store_assets
from connector.store import finding_reads
from connector.store import runs as store_runs
from connector.store.database import create_engine_for, ensure_schema
from connector.sync import SyncReport, run_sync
from connector.validate import validate

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run until SIGTERM/SIGINT: sync on the [schedule] (catching up at start when "
        "the last successful sync is older than the schedule's period), one sync at a time per "
        "connector, and serve /healthz, /readyz and /metrics on service.listen. Migrates the "
        "database schema at start. On SIGTERM a running sync ends after its current page; the "
        f"process exits 0 within {DEFAULT_GRACE_SECONDS:.0f}s."
    )
    parser.add_argument("--now", action="store_true", help="also run one sync at start")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config()
    engine = create_engine_for(config.database_url)
    try:
        with log_context(connector=config.connector_name):
            ensure_schema(engine)
            clean = serve(config, engine, run_now=args.now, web_config=config_loader(ctx))
    finally:
        engine.dispose()
    if not clean:
        log.warning("exiting without waiting for the running sync any longer")
        logging.shutdown()
        os._exit(int(ExitCode.OK))  # the sync thread cannot be joined; its transaction rolls back
    log.info("stopped")
    return int(ExitCode.OK)


def serve(
    config: Config,
    engine: Engine,
    *,
    run_now: bool,
    grace: float = DEFAULT_GRACE_SECONDS,
    web_config: Callable[[], Config] | None = None,
) -> bool:
    """Run the daemon, the HTTP server and (with a web password) the web console until a stop
    signal; True when it stopped cleanly. `web_config` re-reads the config for the console's
    Qualys checks (default: this one)."""
    name = config.connector_name
    metrics = ServiceMetrics()
    stop = threading.Event()
    with engine.connect() as conn:
        last_success = store_runs.last_success_at(conn, name)
        last = store_runs.last_run(conn, name, RunKind.SYNC)
    refresh_store_metrics(engine, name, metrics)

    def run_once() -> SyncReport:
        return sync_once(config, engine, metrics, stop)

    daemon = Daemon(
        config.schedule,
        run_once,
        metrics=metrics,
        last_success=last_success,
        last_outcome=last.outcome.value if last is not None else None,
        stop=stop,
        connector=name,
    )
    if last is not None and last.outcome == RunOutcome.FAILED:
        daemon.state.last_error = last.error
    server = HealthServer(
        config.service.host,
        config.service.port,
        metrics=metrics,
        readiness=store_readiness(engine),
        details=sync_details(daemon.state),
    )
    watch = SignalWatch()
    watch.install()
    console = None
    try:
        server.start()
        console = start_console(
            config,
            engine,
            load_config=web_config or (lambda: config),
            next_sync=lambda: _next_sync(daemon),
        )
        daemon.start(run_now=run_now)
        return run_until_signalled(daemon, grace=grace, watch=watch)
    finally:
        watch.restore()
        stop_console(console)
        server.stop()


def _next_sync(daemon: Daemon) -> datetime | None:
    when = daemon.next_run_time()
    return None if when == "never" else datetime.fromisoformat(when)


def sync_once(
    config: Config, engine: Engine, metrics: ServiceMetrics, stop: threading.Event
) -> SyncReport:
    """One scheduled sync: a fresh client, the sync (it takes the lock), metrics, validation."""
    with log_context(connector=config.connector_name), QualysClient(config.qualys) as client:
        try:
            report = run_sync(
                config,
                engine,
                client,
                host=socket.gethostname(),
                pid=os.getpid(),
                stop=stop,
                progress=LogProgress(),
            )
            if config.sync.validate_after and not stop.is_set():
                run_validation(config, engine, client, metrics)
        finally:
            metrics.add_client_stats(client.stats)
            refresh_store_metrics(engine, config.connector_name, metrics)
    return report


def run_validation(
    config: Config, engine: Engine, client: QualysClient, metrics: ServiceMetrics
) -> None:
    """`[sync] validate_after`: compare Qualys with the store; the result goes to the metrics."""
    try:
        result = validate(config, engine, client)
    except ConnectorError as exc:
        log.warning("validation after the sync failed: %s", exc)
        return
    metrics.validation_mismatches.set(len(result.mismatches))
    for mismatch in result.mismatches:
        log.warning(
            "validation: %s: Qualys %d, store %d (%s)",
            mismatch.scope,
            mismatch.qualys,
            mismatch.stored,
            mismatch.cause,
        )
    if result.ok:
        log.info("validation: Qualys and the store agree")


def refresh_store_metrics(engine: Engine, connector: str, metrics: ServiceMetrics) -> None:
    """Findings by status and severity, assets by state: read from the store into the gauges."""
    try:
        with engine.connect() as conn:
            findings = finding_reads.count_findings(conn, connector)
            assets = store_assets.count_assets(conn, connector)
    except StoreError as exc:
        log.warning("could not refresh the store metrics: %s", exc)
        return
    metrics.set_store_counts(findings, assets)
