"""Knowledge Base HTML (`<P>`, `<BR>`, `<A HREF>`, lists) as plain text, with the stdlib parser.

Paragraphs and line breaks become newlines, list items "- " lines, links "text (url)", entities
their characters; script and style content is dropped. Newlines already in the text are kept
(many KB entries are plain text with line breaks), runs of spaces collapse to one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

_PARAGRAPH = frozenset({"p", "div", "table", "ul", "ol", "pre", "blockquote", "h1", "h2", "h3",
                        "h4", "h5", "h6", "dl"})  # fmt: skip
_LINE = frozenset({"br", "tr", "dt", "dd", "hr"})
_DROPPED = frozenset({"script", "style", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._dropping = 0
        self._pre = 0
        self._links: list[tuple[str | None, int]] = []  # (href, chunk index at <a>)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropping += 1
        elif tag in _PARAGRAPH:
            self.chunks.append("\n\n")
            self._pre += tag == "pre"
        elif tag in _LINE:
            self.chunks.append("\n")
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.chunks)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/> and <hr/>; nothing to close

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _PARAGRAPH:
            self.chunks.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            text = "".join(self.chunks[start:]).strip()
            if href and href.strip() and href.strip() != text:
                self.chunks.append(f" ({href.strip()})")

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        self.chunks.append(data if self._pre else _SPACES.sub(" ", data))


@lru_cache(maxsize=4096)  # KB texts repeat once per finding of a QID
def html_to_text(html: str) -> str:
    """The text a reader sees in `html`, with paragraph and line breaks as newlines."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (line.strip() for line in "".join(collector.chunks).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
