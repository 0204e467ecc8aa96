"""What every subcommand is handed: the environment, the output streams and the config loader."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from connector.config import Config, load_config, resolve_config_path
from connector.logsetup import (
    configure_logging,
    register_basic_auth,
    register_secret,
    register_url_credentials,
)

log = logging.getLogger(__name__)


@dataclass
class CommandContext:
    environ: Mapping[str, str]
    stdout: TextIO
    stderr: TextIO
    config_path: str | None = None
    debug: bool = False
    stdin: BinaryIO | None = None  # None: the process's standard input
    _config: Config | None = field(default=None, repr=False)

    def config(self, *, qualys: bool = True) -> Config:
        """Load and validate the configuration once; raises ConfigError listing every problem.

        qualys=False: the command never calls Qualys, so no credentials are required."""
        if self._config is None:
            path = resolve_config_path(self.config_path, self.environ)
            config = load_config(path, self.environ, require_credentials=qualys)
            level = "debug" if self.debug else config.service.log_level
            configure_logging(config.service.log_format, level, stream=self.stderr)
            protect_secrets(config)
            for warning in config.warnings:
                log.warning("%s", warning)
            self._config = config
        return self._config


def protect_secrets(config: Config) -> None:
    """Register every configured secret with the log redactor before anything can log it."""
    password = config.qualys.password.reveal()
    if password:
        register_basic_auth(config.qualys.username, password)
    web_password = config.web.password.reveal() if config.web.password else ""
    if web_password:
        register_secret(web_password)
    from sqlalchemy import make_url  # here: the CLI starts without importing SQLAlchemy

    db_password = make_url(config.database_url).password
    if db_password:
        register_secret(str(db_password))
    register_url_credentials(config.qualys.proxy)


Handler = Callable[[argparse.Namespace, CommandContext], int]
