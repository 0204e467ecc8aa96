"""What one Qualys answer means: the single classification table.

Inputs are everything Qualys uses to say how a call went: the HTTP status, the QPS `responseCode`
(WAS, `/qps/...`), the `SIMPLE_RETURN` `CODE` (`/api/2.0/...`), and the content type (a maintenance
page is HTML, not XML; an HTML page with a login form is someone else's sign-in page). The output is
an Outcome: success, retry (after the wait the server names), auth (never retried: accounts get
locked), proxy_auth (HTTP 407: the proxy, not Qualys, wants other credentials; never retried),
login_page (a captive portal or SSO gateway answered instead of Qualys; fatal), request_error
(fatal: we asked something wrong) or bad_response (no usable XML: retried as a truncated body).

Qualys codes win over the HTTP status because Qualys reports a failed login as HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Final

from connector.qualys.decode import as_list


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    AUTH = "auth"
    PROXY_AUTH = "proxy_auth"
    LOGIN_PAGE = "login_page"
    REQUEST_ERROR = "request_error"
    BAD_RESPONSE = "bad_response"


class Body(StrEnum):
    """What the body turned out to be."""

    XML = "xml"  # parsed into a document
    HTML = "html"  # text/html: a maintenance or proxy error page
    LOGIN_FORM = "login_form"  # text/html asking for a password: a captive portal or SSO page
    UNUSABLE = "unusable"  # empty, truncated, not XML


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    wait_seconds: float | None = None  # what the server asked us to wait, when it said
    message: str = ""  # the Qualys error text, or why the table decided
    code: str | None = None  # QPS responseCode or SIMPLE_RETURN CODE
    status: int = 200
    qualys_text: str = ""  # Qualys' own words (errorMessage/errorResolution or TEXT), if any

    @property
    def transient(self) -> bool:
        return self.kind in (OutcomeKind.RETRY, OutcomeKind.BAD_RESPONSE)


@dataclass(frozen=True)
class _Rule:
    """One row: matches when every given column matches (None matches anything)."""

    kind: OutcomeKind
    code: str | None = None
    status: frozenset[int] | range | None = None
    body: Body | None = None
    note: str = ""

    def matches(self, status: int, code: str | None, body: Body) -> bool:
        return (
            (self.code is None or self.code == code)
            and (self.status is None or status in self.status)
            and (self.body is None or self.body == body)
        )


_S = OutcomeKind.SUCCESS
_RETRY = OutcomeKind.RETRY
_AUTH = OutcomeKind.AUTH
_PROXY_AUTH = OutcomeKind.PROXY_AUTH
_LOGIN = OutcomeKind.LOGIN_PAGE
_REQ = OutcomeKind.REQUEST_ERROR
_BAD = OutcomeKind.BAD_RESPONSE

# First matching row wins. Qualys codes first (they are what Qualys means), then HTTP status,
# then content type, then the fallbacks.
TABLE: tuple[_Rule, ...] = (
    # --- QPS responseCode (WAS /qps) ---
    _Rule(_AUTH, code="INVALID_CREDENTIALS", note="credentials refused"),
    _Rule(_AUTH, code="UNAUTHORIZED", note="user lacks a permission"),
    _Rule(_REQ, code="INVALID_REQUEST", note="invalid request"),
    _Rule(_REQ, code="NOT_FOUND", note="not found"),
    _Rule(_REQ, code="OPERATION_NOT_SUPPORTED", note="operation not supported"),
    _Rule(_S, code="SUCCESS", status=range(200, 300)),
    # --- SIMPLE_RETURN CODE (/api/2.0) ---
    _Rule(_RETRY, code="1960", note="too many concurrent API calls"),
    _Rule(_RETRY, code="1965", note="API rate limit reached"),
    _Rule(_AUTH, code="2001", note="account expired"),
    _Rule(_REQ, code="1905", note="invalid parameter value"),
    # --- not Qualys answering: a proxy wanting credentials, a sign-in page in the way ---
    _Rule(_PROXY_AUTH, status=frozenset({407}), note="HTTP 407 Proxy Authentication Required"),
    _Rule(_LOGIN, body=Body.LOGIN_FORM, note="an HTML login page (HTTP {status})"),
    # --- HTTP status ---
    _Rule(_AUTH, status=frozenset({401, 403}), note="HTTP {status}"),
    _Rule(_RETRY, status=frozenset({409, 429}), note="HTTP {status}: server busy or rate limited"),
    _Rule(
        _RETRY,
        status=range(500, 600),
        body=Body.HTML,
        note="HTTP {status} with an HTML page: Qualys maintenance or a proxy error",
    ),
    _Rule(_RETRY, status=range(500, 600), note="HTTP {status}: server error"),
    _Rule(_RETRY, body=Body.HTML, note="HTML page instead of XML (maintenance)"),
    _Rule(_REQ, status=range(400, 500), note="HTTP {status}"),
    _Rule(_REQ, status=range(300, 400), note="HTTP {status} redirect: check qualys.api_url"),
    # --- 2xx fallbacks ---
    _Rule(_BAD, body=Body.UNUSABLE, note="body is not usable XML"),
    _Rule(_REQ, code="*unknown*", note="Qualys error"),  # a code we do not know: fatal, with text
    _Rule(_S, body=Body.XML),  # KB output and other /api/2.0 documents carry no code on success
    _Rule(_BAD, note="unexpected answer"),
)


@dataclass(frozen=True)
class Signals:
    """The parts of a response the table reads, extracted from headers and document."""

    code: str | None
    text: str
    wait_seconds: float | None


def classify(
    status: int,
    headers: Mapping[str, str],
    doc: Mapping[str, Any] | None,
    body: bytes = b"",
) -> Outcome:
    """Classify one answer. `doc` is the decoded XML, or None when the body was not usable XML;
    `body` is the raw body (read only when it is HTML, to tell a login page from the rest)."""
    kind = _body_kind(headers.get("content-type", ""), doc, body)
    signals = extract_signals(headers, doc)
    code = signals.code
    lookup_code = code
    if code is not None and not any(rule.code == code for rule in TABLE):
        lookup_code = "*unknown*"
    for rule in TABLE:
        if rule.matches(status, lookup_code, kind):
            note = rule.note.format(status=status)
            message = ": ".join(part for part in (note, signals.text) if part)
            wait = signals.wait_seconds if rule.kind is _RETRY else None
            return Outcome(rule.kind, wait, message, code, status, signals.text)
    raise AssertionError("the last row of TABLE matches everything")  # pragma: no cover


# A password field, or a SAML sign-in hand-off: what marks a page meant for a person to log in.
_LOGIN_FORM: Final = re.compile(
    rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b|\bname\s*=\s*[\"']?SAML(?:Request|Response)\b",
    re.IGNORECASE,
)
_LOGIN_SCAN_BYTES: Final = 256 * 1024


def _body_kind(content_type: str, doc: Mapping[str, Any] | None, body: bytes) -> Body:
    if doc is not None:
        return Body.XML
    if "html" in content_type.lower():
        return Body.LOGIN_FORM if _LOGIN_FORM.search(body[:_LOGIN_SCAN_BYTES]) else Body.HTML
    return Body.UNUSABLE


def extract_signals(headers: Mapping[str, str], doc: Mapping[str, Any] | None) -> Signals:
    """The Qualys code, its error text and the wait the server names (header or body)."""
    code: str | None = None
    text_parts: list[str] = []
    body_wait: float | None = None
    root = next(iter(doc.values()), None) if doc else None
    if doc and isinstance(root, dict):
        if "ServiceResponse" in doc:
            code = _text(root.get("responseCode"))
            details = root.get("responseErrorDetails")
            if isinstance(details, dict):
                text_parts = [
                    t
                    for t in (
                        _text(details.get("errorMessage")),
                        _text(details.get("errorResolution")),
                    )
                    if t
                ]
        elif "SIMPLE_RETURN" in doc:
            response = root.get("RESPONSE")
            if isinstance(response, dict):
                code = _text(response.get("CODE"))
                text = _text(response.get("TEXT"))
                text_parts = [text] if text else []
                items = response.get("ITEM_LIST")
                for item in as_list(items.get("ITEM") if isinstance(items, dict) else None):
                    if isinstance(item, dict) and _text(item.get("KEY")) == "SECONDS_TO_WAIT":
                        body_wait = _number(_text(item.get("VALUE")))
    wait = (
        _number(headers.get("x-ratelimit-towait-sec"))
        or body_wait
        or _retry_after(headers.get("retry-after"))
    )
    text = ". ".join(part.rstrip(".") for part in text_parts) + "." if text_parts else ""
    return Signals(code=code, text=text, wait_seconds=wait)


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _retry_after(text: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date."""
    seconds = _number(text)
    if seconds is not None or not text:
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    delta = (when - datetime.now(UTC)).total_seconds()
    return delta if delta > 0 else None
