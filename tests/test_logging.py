"""Logging: one line per event, JSON or text, the run's context, and never a secret."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from connector.config import load_config
from connector.logsetup import (
    REDACTOR,
    configure_logging,
    log_context,
    register_basic_auth,
    register_secret,
    register_url_credentials,
)

PASSWORD = "S3cr3t/p@ss:word!"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    REDACTOR.clear()


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def fail(exc: Exception) -> None:
    raise exc


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_timestamp_level_logger_message_context_and_extras() -> None:
    """Each JSON line has UTC timestamp, level, logger, message, connector, run id and extras."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    with log_context(connector="qualys-was"), log_context(run_id=42):
        logging.getLogger("connector.sync").info("page %d stored", 3, extra={"findings": 1000})
    (line,) = lines(stream)
    event = json.loads(line)
    assert event["timestamp"].endswith("Z")
    assert event["level"] == "info"
    assert event["logger"] == "connector.sync"
    assert event["message"] == "page 3 stored"
    assert (event["connector"], event["run_id"], event["findings"]) == ("qualys-was", 42, 1000)


def test_context_ends_with_the_block() -> None:
    """Outside log_context the connector and run id are not attached."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    with log_context(connector="qualys-was", run_id=1):
        pass
    logging.getLogger("connector").info("after")
    event = json.loads(lines(stream)[0])
    assert "run_id" not in event
    assert "connector" not in event


def test_auto_is_text_on_a_terminal_and_json_otherwise() -> None:
    """fmt=auto: a terminal gets text lines, a pipe or file gets JSON."""
    tty, pipe = TTY(), io.StringIO()
    configure_logging("auto", "info", stream=tty)
    logging.getLogger("connector").info("hello")
    configure_logging("auto", "info", stream=pipe)
    logging.getLogger("connector").info("hello")
    assert " INFO " in tty.getvalue()
    assert "hello" in tty.getvalue()
    assert not tty.getvalue().startswith("{")
    assert json.loads(pipe.getvalue())["message"] == "hello"


def test_text_lines_show_context_and_keep_tracebacks_on_one_line() -> None:
    """Text format: one line per event even with a traceback; context in brackets."""
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    with log_context(connector="qualys-was", run_id=7):
        try:
            fail(ValueError("boom"))
        except ValueError:
            logging.getLogger("connector").exception("failed")
    (line,) = lines(stream)
    assert "[qualys-was run=7] failed" in line
    assert "ValueError: boom" in line


def test_level_filters_lower_records() -> None:
    """log_level=warning drops info records."""
    stream = io.StringIO()
    configure_logging("json", "warning", stream=stream)
    logging.getLogger("connector").info("quiet")
    logging.getLogger("connector").warning("loud")
    assert [json.loads(x)["message"] for x in lines(stream)] == ["loud"]


def test_configuring_twice_replaces_the_handler() -> None:
    """A second configure_logging does not duplicate lines."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=io.StringIO())
    configure_logging("json", "info", stream=stream)
    logging.getLogger("connector").info("once")
    assert len(lines(stream)) == 1


def test_the_password_never_appears_in_json_logs() -> None:
    """A registered password is masked in messages, args, extras, URLs, headers and tracebacks."""
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    register_basic_auth("alice", PASSWORD)
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    log = logging.getLogger("connector.qualys")
    log.info("password is %s", PASSWORD)
    log.info(f"literal {PASSWORD} in the message")
    log.info("headers %s", {"Authorization": f"Basic {token}"})
    log.info("url https://alice:%s@qualysapi.qualys.eu/qps/rest/3.0/search/was/webapp", PASSWORD)
    log.info("encoded %s", "S3cr3t%2Fp%40ss%3Aword%21")
    log.warning("config", extra={"settings": {"password": PASSWORD, "user": "alice"}})
    log.warning("nested", extra={"params": [PASSWORD, "x"]})
    try:
        fail(RuntimeError(f"login failed for alice/{PASSWORD}"))
    except RuntimeError:
        log.exception("request failed")
    output = stream.getvalue()
    assert len(lines(stream)) == 8
    assert PASSWORD not in output
    assert json.dumps(PASSWORD)[1:-1] not in output
    assert "S3cr3t%2Fp%40ss%3Aword%21" not in output
    assert token not in output
    assert output.count("********") >= 8
    assert all(json.loads(line) for line in lines(stream))


def test_credential_shapes_are_masked_without_registration() -> None:
    """Unregistered credentials are still masked: Basic headers, URL user:pass, password=..."""
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    log = logging.getLogger("httpx")
    log.warning("Authorization: Basic dXNlcjpodW50ZXIy")
    log.warning("GET https://bob:hunter2@proxy.example:3128/path")
    log.warning("connect postgresql://app:hunter3@db:5432/x?password=hunter4")
    log.warning("QUALYS_PASSWORD=hunter5 and 'password': 'hunter6'")
    output = stream.getvalue()
    for secret in ("dXNlcjpodW50ZXIy", "hunter2", "hunter3", "hunter4", "hunter5", "hunter6"):
        assert secret not in output
    assert "https://bob:********@proxy.example:3128/path" in output


def test_plain_text_mentioning_password_is_left_readable() -> None:
    """Messages about passwords (not containing one) are not mangled."""
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    logging.getLogger("connector").info(
        "no Qualys password: set QUALYS_PASSWORD or qualys.password_file"
    )
    assert "no Qualys password: set QUALYS_PASSWORD or qualys.password_file" in stream.getvalue()


def test_register_secret_masks_a_literal_value() -> None:
    """register_secret masks the exact value wherever it appears, also in text logs."""
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    register_secret("tok-123456")
    logging.getLogger("x").info("value=tok-123456;")
    assert "tok-123456" not in stream.getvalue()


def test_a_proxy_urls_password_is_masked_in_every_form() -> None:
    """register_url_credentials masks a URL's password as written, percent-decoded and inside the
    Basic token the proxy is sent, wherever a log line carries it bare."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    register_url_credentials("http://proxy.user:Pr0xy%40S3c%2Fret@proxy.internal:3128")
    token = base64.b64encode(b"proxy.user:Pr0xy@S3c/ret").decode()
    log = logging.getLogger("httpcore")
    log.warning("proxy said no to Pr0xy@S3c/ret")
    log.warning("sent Pr0xy%40S3c%2Fret")
    log.warning("header %s", {"proxy-authorization": f"Basic {token}", "x": token})
    output = stream.getvalue()
    for leaked in ("Pr0xy@S3c/ret", "Pr0xy%40S3c%2Fret", token):
        assert leaked not in output
    assert output.count("********") >= 4
    register_url_credentials(None)  # no proxy: nothing to do
    register_url_credentials("http://proxy.internal:3128")


def test_unknown_format_is_refused() -> None:
    """A format outside auto/text/json is a programming error caught early."""
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml", "info", stream=io.StringIO())


# ECS field names this formatter must use (Elastic Common Schema 8.x: base, log, error, process).
ECS_REQUIRED = {"@timestamp", "log.level", "message", "ecs.version", "log.logger"}


def test_ecs_lines_use_elastic_common_schema_field_names() -> None:
    """log_format = "ecs": @timestamp, log.level, message, ecs.version, log.logger, process and
    service fields; the connector and run id as labels; extras under qualys_was."""
    stream = io.StringIO()
    configure_logging("ecs", "info", stream=stream)
    with log_context(connector="qualys-was", run_id=7):
        logging.getLogger("connector.sync").warning("page %d slow", 3, extra={"seconds": 2.5})
    (line,) = lines(stream)
    event = json.loads(line)
    assert set(event) >= ECS_REQUIRED
    assert event["@timestamp"].endswith("Z")
    assert "T" in event["@timestamp"]
    assert event["log.level"] == "warning"
    assert event["message"] == "page 3 slow"
    assert event["log.logger"] == "connector.sync"
    assert event["ecs.version"].startswith("8.")
    assert isinstance(event["process.pid"], int)
    assert event["labels"] == {"connector": "qualys-was", "run_id": "7"}
    assert event["qualys_was"] == {"seconds": 2.5}
    assert "timestamp" not in event
    assert "level" not in event


def test_ecs_errors_carry_type_message_and_a_redacted_stack_trace() -> None:
    """An exception logged in ECS is error.type, error.message and error.stack_trace, with the
    password masked in all of them."""
    stream = io.StringIO()
    register_secret(PASSWORD)
    configure_logging("ecs", "info", stream=stream)
    try:
        fail(ValueError(f"login with {PASSWORD} refused"))
    except ValueError:
        logging.getLogger("connector").exception("sync failed")
    (line,) = lines(stream)
    event = json.loads(line)
    assert event["error.type"] == "ValueError"
    assert event["error.message"] == "login with ******** refused"
    assert "Traceback (most recent call last)" in event["error.stack_trace"]
    assert PASSWORD not in line


def test_ecs_is_a_valid_log_format_setting() -> None:
    """service.log_format = "ecs" (or CONNECTOR_SERVICE_LOG_FORMAT=ecs) is accepted."""
    config = load_config(
        None,
        {"CONNECTOR_SERVICE_LOG_FORMAT": "ecs", "QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "p"},
    )
    assert config.service.log_format == "ecs"
