"""KB and glossary HTML (Qualys DIAGNOSIS, CONSEQUENCE, SOLUTION...) through an allow-list
sanitiser (nh3, the Ammonia library): formatting and links survive, scripts, styles, event
handlers and javascript: URLs do not. Everything else from Qualys or a file is escaped by Jinja."""

from __future__ import annotations

import nh3
from markupsafe import Markup

TAGS = {
    "a", "b", "br", "code", "dd", "div", "dl", "dt", "em", "h3", "h4", "h5", "i", "li", "ol",
    "p", "pre", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u",
    "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
URL_SCHEMES = {"http", "https", "mailto"}


def kb_html(text: str | None) -> Markup:
    """Safe HTML for a KB text; plain text (no tags) keeps its line breaks."""
    if not text:
        return Markup("")
    if "<" not in text:
        text = text.replace("&", "&amp;").replace("\n", "<br>")
    cleaned = nh3.clean(
        text,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)  # the allow-list sanitiser's output
