"""What the console's pages are handed: the store, the config, and the runners the edge wires up.

The console builds none of its collaborators: `connector web` and `connector serve` build a
`Console` (commands/web.py), tests build one over a test store with fake runners.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from connector.config import Config
from connector.connectivity import CheckResult
from connector.web.sessions import LoginThrottle, SessionStore
from connector.web.uploads import UploadStore

if TYPE_CHECKING:
    from connector.validate import ValidationReport


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    engine: Engine
    config: Config
    check_connectivity: Callable[[], list[CheckResult]]
    run_validation: Callable[[], ValidationReport]
    next_sync: Callable[[], datetime | None] = lambda: None
    scheduler_here: bool = False  # True inside `connector serve` (syncs run in this process)
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    sessions: SessionStore = field(init=False)
    throttle: LoginThrottle = field(init=False)
    uploads: UploadStore = field(init=False)
    chart_cache: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        lifetime = timedelta(minutes=self.config.web.session_minutes)
        self.sessions = SessionStore(lifetime, self.clock)
        self.throttle = LoginThrottle(self.clock)
        self.uploads = UploadStore(max_bytes=self.config.web.upload_max_bytes, clock=self.clock)

    @property
    def connector(self) -> str:
        return self.config.connector_name
