"""Helpers shared by the simulator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xmltodict

BASE = "http://qualys.test"
KB_HEADERS = {"X-Requested-With": "simulator-tests"}
KB_PATH = "/api/2.0/fo/knowledge_base/vuln/"
FINDING_SEARCH = "/qps/rest/3.0/search/was/finding"
FINDING_COUNT = "/qps/rest/3.0/count/was/finding"
WEBAPP_SEARCH = "/qps/rest/3.0/search/was/webapp"
WEBAPP_COUNT = "/qps/rest/3.0/count/was/webapp"


def read_sample(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()


def search_body(
    *criteria: tuple[str, str, str], limit: int | None = None, verbose: bool = True
) -> bytes:
    """A ServiceRequest with the given (field, operator, value) criteria."""
    prefs = f"<verbose>{'true' if verbose else 'false'}</verbose>"
    if limit is not None:
        prefs += f"<limitResults>{limit}</limitResults>"
    crit = "".join(f'<Criteria field="{f}" operator="{o}">{v}</Criteria>' for f, o, v in criteria)
    return (
        f"<ServiceRequest><preferences>{prefs}</preferences>"
        f"<filters>{crit}</filters></ServiceRequest>"
    ).encode()


def page_through(
    client: Any,
    path: str,
    *criteria: tuple[str, str, str],
    limit: int = 100,
    verbose: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """Keyset-page a search to the end; returns every record and the number of pages."""
    records: list[dict[str, Any]] = []
    last_id: str | None = None
    pages = 0
    while True:
        extra = (("id", "GREATER", last_id),) if last_id else ()
        response = client.post(
            path, content=search_body(*criteria, *extra, limit=limit, verbose=verbose)
        )
        assert response.status_code == 200, response.text
        root = xmltodict.parse(response.content, force_list=("WebApp", "Finding"))
        body = root["ServiceResponse"]
        assert body["responseCode"] == "SUCCESS", body
        pages += 1
        data = body.get("data") or {}
        items = data.get("Finding") or data.get("WebApp") or []
        assert int(body["count"]) == len(items)
        records.extend(items)
        if body.get("hasMoreRecords") != "true":
            assert "lastId" not in body
            return records, pages
        assert body["lastId"] == items[-1]["id"]
        last_id = body["lastId"]
        assert pages < 10_000, "paging does not end"


def count(client: Any, path: str, *criteria: tuple[str, str, str]) -> int:
    response = client.post(path, content=search_body(*criteria))
    body = xmltodict.parse(response.content)["ServiceResponse"]
    assert body["responseCode"] == "SUCCESS", body
    assert set(body) - {"@xmlns:xsi", "@xsi:noNamespaceSchemaLocation"} == {"responseCode", "count"}
    return int(body["count"])


def parse(data: bytes) -> dict[str, Any]:
    return xmltodict.parse(data, force_list=("WebApp", "Finding", "VULN"))  # type: ignore[no-any-return]
