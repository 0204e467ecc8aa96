"""URLs of scan reports: normalised for comparing web applications, and asset keys that fit."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

KEY_MAX = 200  # schema.KEY
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BadUrlError(ValueError):
    """A URL whose host or port cannot be read (a bad port, a broken IPv6 literal)."""


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no query or fragment, no trailing slash.

    Raises BadUrlError for a URL whose port is not a number 1-65535 or whose IPv6 literal is
    broken (urllib's ValueError, which would otherwise escape as a traceback)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise BadUrlError(f"{url[:200]!r} is not a URL this importer can read ({exc})") from exc
    scheme = parts.scheme.lower()
    port = port if port and port != _DEFAULT_PORTS.get(scheme) else None
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL (a flat CSV row's URL names a page; its origin the asset)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise BadUrlError(f"{url[:200]!r} is not a URL this importer can read ({exc})") from exc
    return normalise_url(f"{parts.scheme}://{parts.netloc}")


def bounded_key(prefix: str, value: str) -> str:
    """prefix + value, or prefix + a sha256 of value when that would not fit the key column."""
    key = prefix + value
    if len(key) <= KEY_MAX:
        return key
    return prefix + "sha256:" + hashlib.sha256(value.encode()).hexdigest()
