"""Logging setup: one line per event, text or JSON, with the run's context and no secret ever.

`configure_logging` installs a single handler on the root logger. Every record that reaches it is
redacted first: registered secret values (`register_secret`), `Authorization: Basic/Bearer ...`
values, `password=...`-style pairs and `user:pass@` in URLs are masked in the message, in the
exception text and in every `extra=` field. `log_context` attaches the connector name and run id
to every record logged inside it (a contextvar, so threads and runs do not mix).
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "********"
FORMATS = ("auto", "text", "json", "ecs")
ECS_VERSION = "8.11.0"

_connector: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "log_connector", default=None
)
_run_id: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "log_run_id", default=None
)

# Every attribute a plain LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "connector",
    "run_id",
}

# What looks like a credential whatever its value: (pattern, replacement).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Basic dXNlcjpwYXNz / 'authorization': 'Bearer x' / Proxy-Authorization=...
    (
        re.compile(
            r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?\s*(?:basic|bearer|digest)\s+)[^\s'\",;]+"
        ),
        r"\1" + MASK,
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@'\"]*):[^/\s@'\"]*@"), r"\1:" + MASK + "@"),
    # password=..., passwd=... (query strings, key=value log lines)
    (
        re.compile(r"(?i)((?:password|passwd|pwd|secret|token)=)[^\s&'\",;]+"),
        r"\1" + MASK,
    ),
    # "password": "..." / 'password': '...' (dict and JSON renderings)
    (
        re.compile(r"(?i)(['\"](?:password|passwd|pwd|secret|token)['\"]\s*:\s*['\"])[^'\"]*"),
        r"\1" + MASK,
    ),
)


# A mapping key whose value is a credential whatever it looks like.
_SECRET_KEY = re.compile(r"(?i)^(password|passwd|pwd|secret|token|authorization|api[_-]?key)$")


class Redactor:
    """Masks registered secret values and credential-shaped text in strings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def register(self, value: str) -> None:
        """Mask `value` (and its URL-encoded, JSON-escaped and Basic-auth forms) from now on."""
        if not value:
            return
        forms = {
            value,
            quote(value, safe=""),
            quote_plus(value, safe=""),
            json.dumps(value)[1:-1],
            repr(value)[1:-1],
        }
        with self._lock:
            merged = set(self._secrets) | {f for f in forms if f}
            # Longest first, so a secret containing another is masked whole.
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def register_basic_auth(self, username: str, password: str) -> None:
        """Mask the base64 `user:password` token an Authorization header would carry."""
        if password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self.register(token)

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Redact strings, and strings inside lists, tuples and dicts; leave other values alone."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {
                str(k): MASK if _SECRET_KEY.search(str(k)) else self.redact_value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(str(value))


REDACTOR = Redactor()


def register_secret(value: str) -> None:
    """Mask this literal value (e.g. the Qualys password) wherever a log line holds it."""
    REDACTOR.register(value)


def register_basic_auth(username: str, password: str) -> None:
    """Mask the base64 Basic-auth token for these credentials as well as the password itself."""
    REDACTOR.register(password)
    REDACTOR.register_basic_auth(username, password)


def register_url_credentials(url: str | None) -> None:
    """Mask the password a URL carries (as written and percent-decoded) and the Basic-auth token
    it turns into, e.g. for qualys.proxy = http://user:password@proxy:3128."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:  # validated configuration never gets here; mask nothing rather than fail
        return
    if not password:
        return
    for form in {password, unquote(password)}:
        REDACTOR.register(form)
    REDACTOR.register_basic_auth(unquote(username or ""), unquote(password))


@contextmanager
def log_context(*, connector: str | None = None, run_id: int | str | None = None) -> Iterator[None]:
    """Attach the connector name and/or run id to every record logged inside the block."""
    tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []
    if connector is not None:
        tokens.append((_connector, _connector.set(connector)))
    if run_id is not None:
        tokens.append((_run_id, _run_id.set(run_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class RedactingFilter(logging.Filter):
    """Rewrites each record in place: message, exception text and extra fields, all redacted.

    Runs on the handler, so it sees records from every logger (ours, httpx, apscheduler...).
    """

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        record.exc_info = None  # exc_text now carries the (redacted) traceback
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        for key in _extra_keys(record):
            setattr(record, key, self.redactor.redact_value(getattr(record, key)))
        if getattr(record, "connector", None) is None:
            record.connector = _connector.get()
        if getattr(record, "run_id", None) is None:
            record.run_id = _run_id.get()
        return True


def _extra_keys(record: logging.LogRecord) -> list[str]:
    return [k for k in vars(record) if k not in _RECORD_ATTRS and not k.startswith("_")]


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, connector, run_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        connector = getattr(record, "connector", None)
        run_id = getattr(record, "run_id", None)
        if connector is not None:
            payload["connector"] = connector
        if run_id is not None:
            payload["run_id"] = run_id
        for key in _extra_keys(record):
            payload.setdefault(key, _jsonable(getattr(record, key)))
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class EcsFormatter(logging.Formatter):
    """One JSON object per line with Elastic Common Schema field names: `@timestamp`,
    `log.level`, `log.logger`, `message`, `error.type`/`error.message`/`error.stack_trace`,
    `process.pid`, `process.thread.name`, `service.name`, `ecs.version`; the connector name and
    run id are `labels`, other `extra=` fields go under `qualys_was` (a custom field set)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "@timestamp": _timestamp(record),
            "log.level": record.levelname.lower(),
            "message": record.getMessage(),
            "ecs.version": ECS_VERSION,
            "log.logger": record.name,
            "log.origin.function": record.funcName,
            "process.pid": record.process,
            "process.thread.name": record.threadName,
            "service.name": "qualys-was-connector",
        }
        labels = {
            key: str(value)
            for key in ("connector", "run_id")
            if (value := getattr(record, key, None)) is not None
        }
        if labels:
            payload["labels"] = labels
        extras = {key: _jsonable(getattr(record, key)) for key in _extra_keys(record)}
        if extras:
            payload["qualys_was"] = extras
        if record.exc_text:
            payload.update(_ecs_error(record.exc_text))
        if record.stack_info:
            payload["error.stack_trace"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


def _ecs_error(traceback_text: str) -> dict[str, str]:
    """error.* from a formatted (already redacted) traceback: its last line is `Type: message`."""
    last = traceback_text.rstrip().splitlines()[-1] if traceback_text.strip() else ""
    kind, _, message = last.partition(": ")
    error = {"error.stack_trace": traceback_text}
    if kind and " " not in kind:
        error["error.type"] = kind
        error["error.message"] = message
    return error


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float | list | dict):
        return value
    if isinstance(value, tuple):
        return list(value)
    return str(value)


class TextFormatter(logging.Formatter):
    """`2025-03-01T02:00:00.000Z INFO  connector.sync [qualys-was run=12] message key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"{record.levelname:<7}", record.name]
        context = []
        connector = getattr(record, "connector", None)
        run_id = getattr(record, "run_id", None)
        if connector is not None:
            context.append(str(connector))
        if run_id is not None:
            context.append(f"run={run_id}")
        if context:
            parts.append(f"[{' '.join(context)}]")
        parts.append(record.getMessage())
        extras = [f"{k}={getattr(record, k)}" for k in _extra_keys(record)]
        line = " ".join(parts + extras)
        if record.exc_text:
            # Keep one line per event: the traceback's newlines become " | ".
            line += " | " + record.exc_text.replace("\n", " | ")
        return line


class _ConnectorHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs; tagged so a second call replaces it."""


def configure_logging(fmt: str, level: str, *, stream: TextIO) -> None:
    """Send every log record to `stream`, one line each, redacted; replaces a previous setup.

    fmt: "auto" (text on a terminal, JSON otherwise), "text", "json" or "ecs" (JSON with Elastic
    Common Schema field names).
    level: "debug", "info", "warning" or "error".
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    use_json = fmt == "json" or (fmt == "auto" and not _isatty(stream))
    handler = _ConnectorHandler(stream)
    handler.addFilter(RedactingFilter())
    formatter: logging.Formatter = JsonFormatter() if use_json else TextFormatter()
    if fmt == "ecs":
        formatter = EcsFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ConnectorHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    # Libraries that log routine steps at INFO (every job start, every request, every schema
    # check of /readyz); their detail is kept for log_level=debug.
    noisy = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in ("apscheduler", "httpx", "httpcore", "alembic"):
        logging.getLogger(name).setLevel(noisy)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
