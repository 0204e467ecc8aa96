"""The Knowledge Base endpoint's request rules and answer (`/api/2.0/fo/knowledge_base/vuln/`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from connector.simulator.dataset import Dataset
from connector.simulator.records import KbEntry
from connector.simulator.render import render_kb_vuln
from connector.simulator.xmlout import KB_EPILOG, KB_PROLOG, cdata

KB_PATH = "/api/2.0/fo/knowledge_base/vuln"
_KB_PARAMS = frozenset(
    {
        "action",
        "details",
        "ids",
        "id_min",
        "id_max",
        "last_modified_after",
        "published_after",
        "show_disabled_flag",
        "echo_request",
    }
)
_KB_ID = re.compile(r"^(\d+)(?:-(\d+))?$")


class KbParameterError(Exception):
    """A KB request Qualys would refuse with HTTP 400 and a SIMPLE_RETURN `code`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def select_kb(
    dataset: Dataset, params: dict[str, str], max_results: int | None
) -> tuple[list[KbEntry], int | None]:
    """The entries a KB call asks for, and the QID the continuation URL starts from."""
    unknown = sorted(set(params) - _KB_PARAMS)
    if unknown:
        raise KbParameterError(1901, f"Unrecognized parameter(s): {', '.join(unknown)}")
    if "action" not in params:
        raise KbParameterError(1903, "Missing required parameter(s): action")
    if params["action"] != "list":
        raise KbParameterError(1905, f"parameter action has invalid value: {params['action']}")
    if params.get("details", "Basic") not in ("All", "Basic", "None"):
        raise KbParameterError(1905, f"parameter details has invalid value: {params['details']}")
    ranges = _kb_ids(params.get("ids"))
    id_min = _kb_int(params, "id_min")
    id_max = _kb_int(params, "id_max")
    modified = _kb_date(params, "last_modified_after")
    published = _kb_date(params, "published_after")
    entries = dataset.kb_entries(None, modified)
    entries = [
        e
        for e in entries
        if (ranges is None or any(lo <= e.qid <= hi for lo, hi in ranges))
        and (id_min is None or e.qid >= id_min)
        and (id_max is None or e.qid <= id_max)
        and (published is None or e.published >= published)
    ]
    if max_results is not None and len(entries) > max_results:
        return entries[:max_results], entries[max_results].qid
    return entries, None


def render_kb(
    entries: list[KbEntry],
    params: dict[str, str],
    now: str,
    rest_from: int | None,
    base_url: str,
    max_results: int | None,
) -> str:
    """The KNOWLEDGE_BASE_VULN_LIST_OUTPUT; a WARNING with the URL of the rest when cut."""
    details = params.get("details") or "Basic"
    parts = [
        KB_PROLOG,
        "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n  <RESPONSE>\n",
        f"    <DATETIME>{now}</DATETIME>\n",
        "<!-- keep-alive for KNOWLEDGE_BASE_VULN_LIST_OUTPUT  -->\n",
    ]
    if entries:
        parts.append("    <VULN_LIST>\n")
        parts.extend(render_kb_vuln(e, details) for e in entries)
        parts.append("    </VULN_LIST>\n")
    if rest_from is not None:
        query = {k: v for k, v in params.items() if k != "id_min"}
        query["id_min"] = str(rest_from)
        url = f"{base_url}{KB_PATH}/?{urlencode(query)}"
        parts.append(
            "    <WARNING>\n      <CODE>1980</CODE>\n"
            f"      <TEXT>{max_results} record limit exceeded. "
            "Use URL to get next batch of results.</TEXT>\n"
            f"      <URL>{cdata(url)}</URL>\n    </WARNING>\n"
        )
    parts.append("  </RESPONSE>\n</KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n")
    parts.append(KB_EPILOG)
    return "".join(parts)


def _kb_ids(text: str | None) -> list[tuple[int, int]] | None:
    if text is None or not text.strip():
        return None
    ranges = []
    for token in text.split(","):
        match = _KB_ID.match(token.strip())
        if match is None:
            raise KbParameterError(
                1905,
                f"parameter ids has invalid value: {token.strip()} "
                f"(neither a positive integer nor a range: {token.strip()})",
            )
        lo = int(match.group(1))
        ranges.append((lo, int(match.group(2) or lo)))
    return ranges


def _kb_int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise KbParameterError(1905, f"parameter {name} has invalid value: {value}")
    return int(value)


def _kb_date(params: dict[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise KbParameterError(1905, f"parameter {name} has invalid value: {value}")
