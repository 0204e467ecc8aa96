"""The one XML decode step: bytes from Qualys -> plain dicts with a fixed list shape.

`xmltodict` turns one child into a dict and several into a list; every element that can repeat is
named in REPEATED_ELEMENTS so that one `<Finding>` and many map alike. Comments (Qualys sends
keep-alive comments, even inside `RESPONSE`) are dropped. Entity declarations are refused, so an
entity-expansion bomb or an external entity fails at once instead of eating memory or files.
"""

from __future__ import annotations

from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

from connector.errors import QualysResponseError

REPEATED_ELEMENTS: frozenset[str] = frozenset(
    {
        # WAS v3.0 (ServiceResponse): records, and the lists inside a verbose record
        "WebApp",
        "Finding",
        "Tag",
        "Attribute",
        "OWASP",
        "WASC",
        "long",  # cwe/list/long
        "WebAppFindingHistory",
        "Result",  # resultList/list/Result
        "PayloadInstance",
        "Comment",
        "UrlEntry",
        "WebAppAuthRecord",
        "DnsOverride",
        "Criteria",
        # KB and /api/2.0 (KNOWLEDGE_BASE_VULN_LIST_OUTPUT, SIMPLE_RETURN)
        "VULN",
        "CVE",
        "ITEM",
        "SOFTWARE",
        "VENDOR_REFERENCE",
        "BUGTRAQ",
        "AUTH_TYPE",
        "THREAT_INTEL",
        "EXPLT_SRC",
        "EXPLT",
        "MW_SRC",
        "MW_INFO",
        "CHANGE_LOG_INFO",
        "COMPLIANCE_INFO",
        "PCI_REASON",
    }
)


class XmlDecodeError(QualysResponseError):
    """The body is not XML the connector can use."""


class MalformedXmlError(XmlDecodeError):
    """The body is empty, truncated or not well-formed: worth asking again."""


class UnsafeXmlError(XmlDecodeError):
    """The body declares entities (an expansion bomb, an external entity): refused, not retried."""


def decode(body: bytes | str, *, source: str = "Qualys response") -> dict[str, Any]:
    """Parse one XML document into dicts, forcing a list for every repeated element.

    Raises MalformedXmlError for empty/truncated/ill-formed bodies and UnsafeXmlError for bodies
    that declare entities. `source` names the body in the message (a URL path, never credentials).
    """
    if not body or not body.strip():
        raise MalformedXmlError(f"{source} is empty where XML was expected")
    try:
        doc = xmltodict.parse(
            body,
            force_list=REPEATED_ELEMENTS,
            disable_entities=True,
            process_comments=False,
        )
    except ValueError as exc:  # xmltodict's entity guard raises ValueError("entities are disabled")
        raise UnsafeXmlError(
            f"{source} declares XML entities, which the connector refuses to expand"
        ) from exc
    except ExpatError as exc:
        raise MalformedXmlError(f"{source} is not well-formed XML ({exc})") from exc
    if not isinstance(doc, dict) or not doc:
        raise MalformedXmlError(f"{source} has no root element")
    return doc


def as_list(value: Any) -> list[Any]:
    """A list for a container that may be absent or empty (`<data/>` decodes to None)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]
