"""An offline Qualys for client tests: an httpx.MockTransport that serves queued responses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from connector.config import QualysSettings, Secret

API = "https://qualysapi.example.test"
PASSWORD = "s3cret-Pa55"
XML = {"content-type": "text/xml;charset=UTF-8"}

Responder = httpx.Response | Callable[[httpx.Request], httpx.Response] | BaseException


def settings(**overrides: object) -> QualysSettings:
    values: dict[str, object] = {
        "api_url": API,
        "username": "acme_ab12",
        "password": Secret(PASSWORD),
        "platform": None,
        "retry_max_attempts": 4,
        "retry_max_wait_seconds": 600.0,
    }
    values.update(overrides)
    return QualysSettings(**values)  # type: ignore[arg-type]


def xml(body: bytes | str, status: int = 200, **headers: str) -> httpx.Response:
    merged = {**XML, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.Response(status, content=body, headers=merged)


def sample(samples: Path, name: str, status: int = 200, **headers: str) -> httpx.Response:
    return xml((samples / name).read_bytes(), status, **headers)


class FakeQualys:
    """Routes by (method, path); each route answers its queue in order, repeating the last."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Responder]] = {}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def add(self, method: str, path: str, *responses: Responder) -> FakeQualys:
        self.routes.setdefault((method, path), []).extend(responses)
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            queue = self.routes.get((request.method, request.url.path))
            if not queue:
                return httpx.Response(404, text=f"no route for {request.method} {request.url.path}")
            responder = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(responder, BaseException):
            raise responder
        if callable(responder):
            return responder(request)
        return httpx.Response(
            responder.status_code, headers=responder.headers, content=responder.content
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]
