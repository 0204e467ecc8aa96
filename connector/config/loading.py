"""Loading: the TOML file (if any), then the environment, then the secrets, then validation;
every problem collected and reported at once (ConfigError), the result frozen."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from connector.config.keys import KEYS, is_type, parse_env, type_name
from connector.config.sections import build_config
from connector.config.settings import Config, Secret
from connector.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config.toml")


MISSING_LOGIN_PROBLEM = "no Qualys password: set QUALYS_PASSWORD or qualys.password_file"


WEB_PASSWORD_ENV = "CONNECTOR_WEB_PASSWORD"  # noqa: S105 - a variable name, not a secret


MISSING_WEB_PASSWORD = (
    f"no web console password: set {WEB_PASSWORD_ENV} or [web] password_file "
    "(the console has no unauthenticated mode)"
)


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path | None:
    """`--config`, then `$CONNECTOR_CONFIG`, then `./config.toml` if it exists.

    `CONNECTOR_CONFIG=` (set but empty) means no file at all: configuration from the environment."""
    if cli_path:
        return Path(cli_path)
    if "CONNECTOR_CONFIG" in environ:
        return Path(environ["CONNECTOR_CONFIG"]) if environ["CONNECTOR_CONFIG"] else None
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(
    path: Path | None, environ: Mapping[str, str], *, require_credentials: bool = True
) -> Config:
    """Read the TOML file (if any), apply the environment, validate everything, freeze.

    Commands that never call Qualys (export, import, db) pass require_credentials=False: a
    missing username or password is then not a problem (the password stays empty)."""
    problems: list[str] = []
    warnings: list[str] = []
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(path, problems)
    values = _merge_defaults(raw, problems)
    _apply_environment(values, environ, problems)
    password = _resolve_password(values, raw, path, environ, problems, warnings)
    if password is None and not require_credentials:
        password = Secret("")
    elif password is None and not values["qualys"]["password_file"]:
        problems.append(MISSING_LOGIN_PROBLEM)
    if not values["qualys"]["username"] and not require_credentials:
        values["qualys"]["username"] = "(not configured)"
    web_password = _resolve_web_password(values["web"], environ, problems)
    config = build_config(values, password, web_password, problems)
    if problems or config is None:
        raise ConfigError(problems)
    source = str(path) if path is not None else "<environment>"
    return replace(config, source=source, warnings=tuple(warnings))


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(f"config file {path} does not exist: create it from config.example.toml")
    except PermissionError:
        problems.append(f"config file {path} is not readable by this user: fix its permissions")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config file {path} is not valid TOML: {exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:  # a directory, an I/O error...
        problems.append(f"config file {path} cannot be read: {exc.strerror or exc}")
    return {}


def _merge_defaults(raw: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        section: {key: default for key, (_, default) in keys.items()}
        for section, keys in KEYS.items()
    }
    for section, table in raw.items():
        if section not in KEYS:
            problems.append(f"unknown section [{section}] (known: {', '.join(KEYS)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"[{section}] must be a table")
            continue
        for key, value in table.items():
            if key not in KEYS[section]:
                problems.append(f"unknown key {section}.{key} (known: {', '.join(KEYS[section])})")
                continue
            expected, _ = KEYS[section][key]
            if not is_type(value, expected):
                problems.append(
                    f"{section}.{key} must be {type_name(expected)}, not {type(value).__name__}"
                )
                continue
            values[section][key] = value
    return values


def _apply_environment(
    values: dict[str, dict[str, Any]], environ: Mapping[str, str], problems: list[str]
) -> None:
    """CONNECTOR_<SECTION>_<KEY> overrides the file. An empty variable for a key that is unset by
    default (proxy, api_url, ca_bundle, password_file...) means "none", as an empty HTTPS_PROXY
    does for curl: `-e CONNECTOR_QUALYS_PROXY=` turns the proxy off."""
    for section, keys in KEYS.items():
        for key, (expected, default) in keys.items():
            name = f"CONNECTOR_{section.upper()}_{key.upper()}"
            if name in environ and default is None and not environ[name].strip():
                values[section][key] = None
            elif name in environ:
                parsed = parse_env(environ[name], expected)
                if parsed is None:
                    problems.append(f"{name}={environ[name]!r} is not {type_name(expected)}")
                else:
                    values[section][key] = parsed
    if environ.get("QUALYS_USERNAME"):
        values["qualys"]["username"] = environ["QUALYS_USERNAME"]


def _resolve_password(
    values: dict[str, dict[str, Any]],
    raw: dict[str, Any],
    path: Path | None,
    environ: Mapping[str, str],
    problems: list[str],
    warnings: list[str],
) -> Secret | None:
    qualys = values["qualys"]
    in_file = raw.get("qualys", {}).get("password") if isinstance(raw.get("qualys"), dict) else None
    if in_file:
        warnings.append(
            "qualys.password is written in the config file: prefer QUALYS_PASSWORD or "
            "qualys.password_file"
        )
        if path is not None and _readable_by_others(path):
            warnings.append(
                f"config file {path} holds a password and is readable by other users: "
                f"chmod 600 {path}"
            )
    if environ.get("QUALYS_PASSWORD"):
        return Secret(environ["QUALYS_PASSWORD"])
    if qualys["password_file"]:
        return _read_secret_file("qualys.password_file", Path(qualys["password_file"]), problems)
    if qualys["password"]:
        return Secret(str(qualys["password"]))
    return None


def _resolve_web_password(
    web: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> Secret | None:
    """CONNECTOR_WEB_PASSWORD, else [web] password_file; None: the console stays off."""
    if environ.get(WEB_PASSWORD_ENV):
        return Secret(environ[WEB_PASSWORD_ENV])
    if not web["password_file"]:
        return None
    return _read_secret_file("web.password_file", Path(web["password_file"]), problems)


def _read_secret_file(setting: str, path: Path, problems: list[str]) -> Secret | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        problems.append(
            f"{setting} {path} cannot be read ({why}): "
            "mount the secret there or fix its permissions"
        )
        return None
    if not text:
        problems.append(f"{setting} {path} is empty")
        return None
    return Secret(text)


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def environ_snapshot() -> dict[str, str]:
    """The process environment, read once at the edge (cli) and passed down."""
    return dict(os.environ)
