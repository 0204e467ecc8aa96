"""The URLs a configuration names (Qualys API server, proxy, database): what is wrong with them,
and how to show them without the credentials they may carry.

Pure: no httpx and no SQLAlchemy. The database URL is matched with SQLAlchemy's own grammar, so what
passes here is what `create_engine` parses; tests check both agree.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

API_URL_SCHEMES = ("https", "http")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# The drivers this connector ships (plain postgresql:// means psycopg 3 in SQLAlchemy 2.1).
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
CREDENTIALS_MASK = "********"

# SQLAlchemy's own URL grammar (sqlalchemy.engine.url._parse_url), so that what passes here is
# what create_engine will parse; config stays free of SQLAlchemy itself.
_DATABASE_URL_RE = re.compile(
    r"""
    (?P<scheme>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


def mask_credentials(url: str) -> str:
    """`url` with everything between the scheme and its last '@' masked: safe to print even when
    the URL is malformed (a password holding '/' or ':' cannot leak part-way)."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    return f"{scheme}{sep}{CREDENTIALS_MASK}{rest[rest.rfind('@') :]}"


def has_userinfo(url: str) -> bool:
    """Whether the URL carries user:password@ (or a bare user@)."""
    return "@" in urlsplit(url).netloc


def url_problems(key: str, url: str, schemes: tuple[str, ...], *, example: str) -> list[str]:
    """What is wrong with an http(s)/socks URL: scheme, host, port, stray characters.

    A message shows the URL only once it parses, with its user info masked; a value that does
    not parse (a password typed where the URL goes, a port that is not a number) is not shown
    beyond its scheme, since no one can tell which part of it is a secret."""
    allowed = " or ".join(f"{scheme}://" for scheme in schemes)
    if "://" not in url:
        return [f"{key} is not a URL: write it like {example} ({allowed})"]
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number in 0..65535
    except ValueError:
        return [
            f"{key} {url.split('://')[0]}://... is not a valid URL (the port must be a number "
            f"from 1 to 65535, an IPv6 address goes in brackets): write it like {example}"
        ]
    shown = repr(mask_credentials(url))
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return [f"{key} {shown} contains spaces or control characters: write it like {example}"]
    if parts.scheme not in schemes:
        return [f"{key} {shown} must start with {allowed} (like {example})"]
    if not parts.hostname or port == 0:
        return [f"{key} {shown} names no host and port: write it like {example}"]
    return []


def database_url_problems(url: str) -> list[str]:  # noqa: PLR0911 - one return per problem
    """What is wrong with database.url, parsed the way SQLAlchemy parses it; never shows the
    password."""
    shown = repr(mask_credentials(url))
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return [f"database.url {shown} contains spaces or control characters"]
    match = _DATABASE_URL_RE.match(url)
    if match is None or match["scheme"] not in DATABASE_SCHEMES:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        got = f"{scheme}://..." if scheme and "@" not in scheme else "no URL scheme"
        return [
            f"database.url must start with sqlite:/// or postgresql+psycopg:// (got {got}); "
            f"supported: {', '.join(f'{s}://' for s in DATABASE_SCHEMES)}"
        ]
    host = match["ipv4host"] or match["ipv6host"]
    port = match["port"]
    if match["scheme"].startswith("sqlite"):
        if match["username"] is not None or host or port:
            return [
                f"database.url {shown} names a host: a SQLite URL is sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db (three or four slashes)"
            ]
        return []
    if host and "@" in host:
        return [f"database.url {shown}: write an @ inside the user name or password as %40"]
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return [f"database.url {shown} has a port that is not a number from 1 to 65535"]
    return []
