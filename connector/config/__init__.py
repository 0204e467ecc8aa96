"""Configuration: read once from TOML and the environment, validated completely, then frozen.

Every problem is collected and reported together (`ConfigError.problems`). Secrets come from the
environment or a file; a password written in the TOML file is accepted but produces a warning.

    settings.py  the settings dataclasses (what the rest of the connector reads)
    keys.py      the key table: every key, its type and default
    loading.py   file, environment and secrets into validated settings
    sections.py  each section's validation
"""

from connector.config.keys import KEYS
from connector.config.loading import (
    MISSING_WEB_PASSWORD,
    environ_snapshot,
    load_config,
    resolve_config_path,
)
from connector.config.settings import (
    DEFAULT_SEVERITY_FALLBACK,
    LOG_FORMATS,
    LOG_LEVELS,
    PLATFORMS,
    WEEKDAYS,
    Config,
    ImportSettings,
    QualysSettings,
    ScheduleSettings,
    Secret,
    ServiceSettings,
    SyncSettings,
    WebSettings,
    config_for_tests,
)

__all__ = [
    "DEFAULT_SEVERITY_FALLBACK",
    "KEYS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MISSING_WEB_PASSWORD",
    "PLATFORMS",
    "WEEKDAYS",
    "Config",
    "ImportSettings",
    "QualysSettings",
    "ScheduleSettings",
    "Secret",
    "ServiceSettings",
    "SyncSettings",
    "WebSettings",
    "config_for_tests",
    "environ_snapshot",
    "load_config",
    "resolve_config_path",
]
