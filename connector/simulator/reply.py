"""What a simulator endpoint answers: status, headers, and a body that may break part-way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

XML = "application/xml;charset=UTF-8"
TEXT_XML = "text/xml;charset=UTF-8"
HTML = "text/html; charset=UTF-8"


class SimulatedConnectionReset(httpx.ReadError):
    """Raised mid-body by a `connection_reset` fault.

    In process (`httpx.WSGITransport`) the client sees it as the `httpx.ReadError` a real reset
    produces; behind a socket server the WSGI server catches it and drops the connection, so the
    client sees a short body instead. It subclasses httpx's error only for that reason: the
    simulator is a server and uses no httpx client code.
    """


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = XML
    headers: list[tuple[str, str]] = field(default_factory=list)
    break_after: int | None = None
    """When set, send the full Content-Length but only this many bytes, then drop the connection."""

    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"

    def header_list(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *self.headers,
        ]

    def chunks(self) -> list[bytes] | Iterator[bytes]:
        if self.break_after is None:
            return [self.body]
        return _breaking(self.body, self.break_after)


def _breaking(body: bytes, keep: int) -> Iterator[bytes]:
    yield body[:keep]
    raise SimulatedConnectionReset("connection reset by the Qualys simulator (injected fault)")


def xml_reply(status: int, text: str, *, content_type: str = XML) -> Reply:
    return Reply(status=status, body=text.encode("utf-8"), content_type=content_type)
