"""What every subcommand is handed: the environment, the output streams and the config loader."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from connector.config import Config, load_config, resolve_config_path

log = logging.getLogger(__name__)


@dataclass
class CommandContext:
    environ: Mapping[str, str]
    stdout: TextIO
    stderr: TextIO
    config_path: str | None = None
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)

    def config(self, *, qualys: bool = True) -> Config:
        """Load and validate the configuration once; raises ConfigError listing every problem.

        qualys=False: the command never calls Qualys, so no credentials are required."""
        if self._config is None:
            path = resolve_config_path(self.config_path, self.environ)
            self._config = load_config(path, self.environ, require_credentials=qualys)
            for warning in self._config.warnings:
                log.warning("%s", warning)
        return self._config


Handler = Callable[[argparse.Namespace, CommandContext], int]
