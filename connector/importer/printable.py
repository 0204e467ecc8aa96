"""Text from a file, made safe to print on a terminal: control characters shown as escapes.

A report's header, web application name or cell can carry ESC sequences (which repaint or hide
terminal output), carriage returns, or bidirectional overrides (which reorder what is shown).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str | None, *, keep_newlines: bool = False) -> str:
    """`text` with every control character (and newline, unless kept) written as an escape."""
    if not text:
        return ""
    escaped = _CONTROL.sub(_escape, text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n").replace("\t", "\\t")
