"""Fault injection: rules saying which call to which endpoint fails, and how it fails."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from connector.simulator.reply import HTML, Reply, xml_reply
from connector.simulator.xmlout import service_error, simple_return


class FaultKind(StrEnum):
    HTTP_409_1960 = "http_409_1960"
    """409 + SIMPLE_RETURN 1960 (concurrency limit), CALLS_TO_FINISH item."""
    HTTP_409_1965 = "http_409_1965"
    """409 + SIMPLE_RETURN 1965 (rate limit), SECONDS_TO_WAIT item and X-RateLimit-ToWait-Sec."""
    HTTP_429 = "http_429"
    """429 with Retry-After: `seconds`."""
    HTTP_503 = "http_503"
    """503 Service Unavailable (plain HTML)."""
    CONNECTION_RESET = "connection_reset"
    """Headers and part of the real body, then the connection drops."""
    TRUNCATED_XML = "truncated_xml"
    """Status 200 and a well-formed start of the real body, cut mid-element."""
    HTML_MAINTENANCE = "html_maintenance"
    """A text/html maintenance page with HTTP `status` (200 or 503)."""
    INVALID_CREDENTIALS_200 = "invalid_credentials_200"
    """QPS: HTTP 200 INVALID_CREDENTIALS; KB: HTTP 401 SIMPLE_RETURN Bad Login/Password."""
    SLOW = "slow"
    """Sleep `seconds`, then answer normally."""
    KB_REFUSED = "kb_refused"
    """KB only: SIMPLE_RETURN `code` (2001 expired account, HTTP 200; 1905 bad value, HTTP 400)."""
    ENDS_EARLY = "ends_early"
    """Listing: the page's records, but `hasMoreRecords=false` and no lastId although more
    records match (the listing ends early)."""
    ENDS_EMPTY = "ends_empty"
    """Listing: an empty answer (`<count>0</count>`, no data, as a real empty search) although
    records match."""
    ENDLESS_EMPTY = "endless_empty"
    """Listing: an empty `<data/>` page claiming `hasMoreRecords=true` with an advancing lastId;
    fires on every matching page from `on_call` on (`every` is implied): a broken server that
    makes a naive client page forever."""
    REPEAT_PAGE = "repeat_page"
    """Listing: the previous page of the same listing again (same records, same lastId), so a
    client following lastId loops; the first page of a listing has none and is answered normally."""


LISTING_FAULTS = frozenset(
    {FaultKind.ENDS_EARLY, FaultKind.ENDS_EMPTY, FaultKind.ENDLESS_EMPTY, FaultKind.REPEAT_PAGE}
)
"""Faults that bend a search page's content; they hit web app and finding searches only (not
gets or counts), so use them with endpoint "finding", "webapp" or "any"."""


ENDPOINTS = frozenset({"webapp", "finding", "kb", "count", "version", "any"})
"""Fault targets: webapp = webapp search/get, finding = finding search/get, count = both counts."""

MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Qualys - Scheduled Maintenance</title></head>\n"
    "<body><h1>Scheduled Maintenance</h1><p>The Qualys Cloud Platform is undergoing scheduled "
    "maintenance. Please try again later.</p></body></html>\n"
)


@dataclass
class Fault:
    """A rule: the `on_call`-th matching call (1-based, counted from when the rule is installed) and
    the `times - 1` after it fail with `kind`; with `every=True` every matching call from the
    `on_call`-th on fails (e.g. on_call=3, every=True: page 3 and everything after it)."""

    endpoint: str
    kind: FaultKind | str
    on_call: int = 1
    every: bool = False
    times: int = 1
    seconds: float = 1.0
    """slow: the delay; http_409_1965: SECONDS_TO_WAIT and X-RateLimit-ToWait-Sec; http_429:
    Retry-After (rounded up to whole seconds for the headers)."""
    status: int = 503
    """html_maintenance: the HTTP status (200 or 503)."""
    code: int = 2001
    """kb_refused: the SIMPLE_RETURN code (2001 -> HTTP 200, anything else -> HTTP 400)."""
    seen: int = field(default=0, init=False)
    """Matching calls observed since the rule was installed."""
    fired: int = field(default=0, init=False)
    """How many calls this rule has failed."""

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {self.endpoint!r}; use {sorted(ENDPOINTS)}")
        if self.on_call < 1 or self.times < 1:
            raise ValueError("on_call and times are 1 or more")
        if self.kind == FaultKind.ENDLESS_EMPTY:
            self.every = True

    def matches(self, category: str, endpoint: str = "") -> bool:
        """Whether a call to `endpoint` (e.g. finding_search) of `category` is one to count."""
        if self.kind == FaultKind.KB_REFUSED and category != "kb":
            return False
        if self.kind in LISTING_FAULTS and not endpoint.endswith("_search"):
            return False
        return self.endpoint in ("any", category)

    def observe(self) -> bool:
        """Count one matching call; True when this call must fail."""
        self.seen += 1
        if self.every:
            fire = self.seen >= self.on_call
        else:
            fire = self.on_call <= self.seen < self.on_call + self.times
        if fire:
            self.fired += 1
        return fire


@dataclass(frozen=True)
class FaultCall:
    """What a fault needs to know about the call it breaks."""

    category: str
    when: str
    normal: Callable[[], Reply]
    """Builds the answer the call would get without the fault."""
    sleep: Callable[[float], None]


def apply_fault(fault: Fault, call: FaultCall) -> Reply:
    """The reply a call gets under `fault` (not a listing fault: `listing.bend_page` does those)."""
    return _BUILDERS[FaultKind(fault.kind)](fault, call)


def _wait_seconds(fault: Fault) -> int:
    return max(1, math.ceil(fault.seconds))


def _concurrency(fault: Fault, call: FaultCall) -> Reply:
    text = "This API cannot be run again until 1 currently running API instance has finished."
    reply = xml_reply(409, simple_return(1960, text, call.when, (("CALLS_TO_FINISH", "1"),)))
    reply.headers += [("X-Concurrency-Limit-Limit", "2"), ("X-Concurrency-Limit-Running", "3")]
    return reply


def _rate_limit(fault: Fault, call: FaultCall) -> Reply:
    wait = _wait_seconds(fault)
    text = f"This API cannot be run again for another {wait} seconds."
    reply = xml_reply(409, simple_return(1965, text, call.when, (("SECONDS_TO_WAIT", str(wait)),)))
    reply.headers += [("X-RateLimit-ToWait-Sec", str(wait)), ("X-RateLimit-Remaining", "0")]
    return reply


def _too_many(fault: Fault, call: FaultCall) -> Reply:
    reply = Reply(429, b"Too Many Requests\n", content_type="text/plain")
    reply.headers.append(("Retry-After", str(_wait_seconds(fault))))
    return reply


def _unavailable(fault: Fault, call: FaultCall) -> Reply:
    return Reply(503, b"<html><body>503 Service Unavailable</body></html>\n", content_type=HTML)


def _maintenance(fault: Fault, call: FaultCall) -> Reply:
    return Reply(fault.status, MAINTENANCE_PAGE.encode(), content_type=HTML)


def _slow(fault: Fault, call: FaultCall) -> Reply:
    call.sleep(fault.seconds)
    return call.normal()


def _truncated(fault: Fault, call: FaultCall) -> Reply:
    reply = call.normal()
    reply.body = truncate_mid_element(reply.body)
    return reply


def _reset(fault: Fault, call: FaultCall) -> Reply:
    reply = call.normal()
    reply.break_after = max(1, len(reply.body) // 2)
    return reply


_BUILDERS: dict[FaultKind, Callable[[Fault, FaultCall], Reply]] = {
    FaultKind.HTTP_409_1960: _concurrency,
    FaultKind.HTTP_409_1965: _rate_limit,
    FaultKind.HTTP_429: _too_many,
    FaultKind.HTTP_503: _unavailable,
    FaultKind.CONNECTION_RESET: _reset,
    FaultKind.TRUNCATED_XML: _truncated,
    FaultKind.HTML_MAINTENANCE: _maintenance,
    FaultKind.INVALID_CREDENTIALS_200: lambda f, c: invalid_credentials(c.category, c.when),
    FaultKind.SLOW: _slow,
    FaultKind.KB_REFUSED: lambda f, c: kb_refused(f.code, c.when),
}


def truncate_mid_element(body: bytes) -> bytes:
    """Cut a document inside an element, after a well-formed start (past the root's open tag)."""
    cut = max(len(body) * 3 // 5, 1)
    open_tag = body.rfind(b"<", 0, cut)
    close = body.find(b">", open_tag)
    if open_tag > 0 and close != -1:
        return body[: close + 1] + b"trunc"
    return body[:cut]


def invalid_credentials(category: str, when: str) -> Reply:
    """How Qualys refuses a login: QPS says so with HTTP 200, the KB with HTTP 401."""
    if category == "kb":
        return xml_reply(401, simple_return(None, "Bad Login/Password", when))
    return xml_reply(
        200,
        service_error(
            "finding" if category == "finding" else "webapp",
            "INVALID_CREDENTIALS",
            "Authentication failed",
            "Verify both, user and password credentials.",
        ),
    )


def kb_refused(code: int, when: str) -> Reply:
    if code == 2001:
        return xml_reply(200, simple_return(2001, "This account has expired.", when))
    text = (
        "parameter ids has invalid value: abc123 (neither a positive integer nor a range: abc123)"
    )
    return xml_reply(400, simple_return(code, text, when))
