"""Login sessions: a random session id in a signed cookie, looked up in this process's table.

The cookie carries only the id, signed with a per-process key (itsdangerous), so a forged or
tampered cookie is refused before any lookup; the table holds the user, the CSRF token and the
expiry, so logging out ends the session for good. Sessions end when the process restarts.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, TimestampSigner

COOKIE = "connector_session"
LOGIN_COOKIE = "connector_login"  # the login form's CSRF nonce, before there is a session


@dataclass(frozen=True)
class Session:
    sid: str
    username: str
    csrf_token: str
    expires_at: datetime


class SessionStore:
    """Creates, finds and ends sessions; `clock` returns the current UTC time."""

    def __init__(
        self, lifetime: timedelta, clock: Callable[[], datetime], key: bytes | None = None
    ) -> None:
        self.lifetime = lifetime
        self._clock = clock
        key = key or secrets.token_bytes(32)
        self._signer = TimestampSigner(key, salt="connector-web-session")
        self._login_signer = TimestampSigner(key, salt="connector-web-login")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, username: str) -> tuple[Session, str]:
        """A new session and the cookie value that names it."""
        now = self._clock()
        session = Session(
            sid=secrets.token_urlsafe(32),
            username=username,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + self.lifetime,
        )
        with self._lock:
            self._drop_expired(now)
            self._sessions[session.sid] = session
        return session, self._signer.sign(session.sid).decode("ascii")

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, or None (absent, forged, expired or logged out)."""
        if not cookie:
            return None
        try:
            sid = self._signer.unsign(cookie, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:
            return None
        with self._lock:
            session = self._sessions.get(sid.decode("ascii", "replace"))
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[session.sid]
                return None
            return session

    def end(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def _drop_expired(self, now: datetime) -> None:
        for sid in [s.sid for s in self._sessions.values() if s.expires_at <= now]:
            del self._sessions[sid]

    # --- the login form's token (double submit: a signed nonce in the form and a cookie) ---
    def login_token(self) -> tuple[str, str]:
        """(form token, cookie value) for one login form."""
        nonce = secrets.token_urlsafe(24)
        return self._login_signer.sign(nonce).decode("ascii"), nonce

    def login_token_ok(self, form_token: str | None, cookie: str | None) -> bool:
        if not form_token or not cookie:
            return False
        try:
            nonce = self._login_signer.unsign(form_token, max_age=3600).decode("ascii", "replace")
        except BadSignature:
            return False
        return secrets.compare_digest(nonce, cookie)


class LoginThrottle:
    """Failed logins per client address in a window; each failure waits longer (to a cap)."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        window: timedelta = timedelta(minutes=15),
        first_delay: float = 1.0,
        max_delay: float = 16.0,
    ) -> None:
        self._clock = clock
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def failed(self, client: str) -> float:
        """Record a failure; returns the seconds to wait before answering it."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window]
            recent.append(now)
            self._failures[client] = recent
            if len(self._failures) > 10_000:  # bound the table under a spray of addresses
                self._failures = {c: ts for c, ts in self._failures.items() if ts[-1] == now}
            count = len(recent)
        return min(self.first_delay * float(2 ** (count - 1)), self.max_delay)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
