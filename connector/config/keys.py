"""The key table (section -> key -> type, default): the user-facing contract that
config.example.toml documents, and how values of each type are read from the environment."""

from __future__ import annotations

import math
import tomllib
from typing import Any

from connector.config.settings import WEEKDAYS

# The key table: section -> key -> (type, default). A user contract: see config.example.toml.
_Spec = dict[str, dict[str, tuple[type | tuple[type, ...], Any]]]


KEYS: _Spec = {
    "connector": {"name": (str, "qualys-was")},
    "qualys": {
        "platform": (str, "US1"),
        "api_url": (str, None),
        "username": (str, None),
        "password": (str, None),
        "password_file": (str, None),
        "proxy": (str, None),
        "ca_bundle": (str, None),
        "timeout_seconds": ((int, float), 300),
        "page_size": (int, 1000),
        "concurrency": (int, 1),
        "kb_batch_size": (int, 300),
        "retry_max_attempts": (int, 8),
        "retry_max_wait_seconds": ((int, float), 1800),
    },
    "sync": {
        "pull_informational": (bool, False),
        "pull_knowledge_base": (bool, True),
        "asset_retention_days": (int, 30),
        "validate_after": (bool, False),
        "severity_fallback": (dict, None),
        "full_sync_every_days": (int, 7),
        "max_listing_minutes": (int, 720),
    },
    "schedule": {
        "time": (str, "02:00"),
        "days": (list, list(WEEKDAYS)),
        "timezone": (str, "UTC"),
    },
    "database": {"url": (str, "sqlite:///data/connector.db")},
    "import": {"evidence_max_bytes": (int, 65536)},
    "service": {
        "listen": (str, "127.0.0.1:9108"),
        "log_format": (str, "auto"),
        "log_level": (str, "info"),
    },
    "web": {
        "listen": (str, "127.0.0.1:8080"),
        "username": (str, "admin"),
        "password_file": (str, None),
        "session_minutes": (int, 480),
        "upload_max_mb": (int, 100),
        "secure_cookie": (bool, False),
    },
}


def is_type(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass; only accept it where bool is meant
        return expected is bool
    return isinstance(value, expected)


def type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    if isinstance(expected, tuple):
        return "a number"
    return names.get(expected, expected.__name__)


def parse_env(text: str, expected: type | tuple[type, ...]) -> Any:  # noqa: PLR0911
    if expected is bool:
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            text.strip().lower()
        )
    if expected is int:
        try:
            return int(text)
        except ValueError:
            return None
    if isinstance(expected, tuple):
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None  # "nan", "inf", "1e999"
    if expected is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    if expected is dict:
        try:
            parsed = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return text
