"""The simulator's XML has the same shapes as real recorded Qualys responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import xmltodict

from connector.simulator import Dataset, Simulator

from .helpers import KB_HEADERS, read_sample, search_body

LISTS = ("WebApp", "Finding", "VULN", "CVE", "Criteria")


def parse(data: bytes | str) -> dict[str, Any]:
    return xmltodict.parse(data, force_list=LISTS)  # type: ignore[no-any-return]


def keys(node: dict[str, Any]) -> set[str]:
    return set(node)


def structure(node: Any) -> Any:
    """The element tree without text: nested dicts of key -> structure, lists collapsed."""
    if isinstance(node, list):
        return structure(node[0]) if node else None
    if isinstance(node, dict):
        return {k: structure(v) for k, v in node.items()}
    return None


def test_webapp_search_matches_the_real_sample(client: httpx.Client, samples: Path) -> None:
    """A non-verbose web app search has the sample's envelope and WebApp fields, owner and tags."""
    real = parse(read_sample(samples, "search_was_webapp_7.xml"))["ServiceResponse"]
    ours = parse(
        client.post("/qps/rest/3.0/search/was/webapp", content=search_body(verbose=False)).content
    )["ServiceResponse"]
    assert keys(ours) == keys(real)
    assert keys(ours["data"]["WebApp"][0]) == keys(real["data"]["WebApp"][0])
    assert structure(ours["data"]["WebApp"][0]) == structure(real["data"]["WebApp"][0])


def test_webapp_page_with_more_has_last_id_like_the_sample(
    client: httpx.Client, samples: Path
) -> None:
    """A page with more records carries hasMoreRecords=true and lastId, as the real one does."""
    real = parse(read_sample(samples, "search_was_webapp_page_has_more.xml"))["ServiceResponse"]
    ours = parse(
        client.post(
            "/qps/rest/3.0/search/was/webapp", content=search_body(limit=1, verbose=False)
        ).content
    )["ServiceResponse"]
    assert keys(ours) == keys(real)
    assert ours["hasMoreRecords"] == "true"
    assert ours["lastId"] == ours["data"]["WebApp"][0]["id"]


def test_verbose_webapp_adds_tags_attributes_and_last_scan(client: httpx.Client) -> None:
    """Verbose web apps carry tags/list/Tag{id,name}, attributes/list/Attribute and lastScan."""
    ours = parse(client.post("/qps/rest/3.0/search/was/webapp", content=search_body()).content)
    apps = ours["ServiceResponse"]["data"]["WebApp"]
    tagged = [a for a in apps if a["tags"]["count"] != "0"]
    with_attrs = [a for a in apps if a["attributes"]["count"] != "0"]
    assert tagged and with_attrs
    tag = tagged[0]["tags"]["list"]["Tag"]
    assert keys(tag if isinstance(tag, dict) else tag[0]) == {"id", "name"}
    attr = with_attrs[0]["attributes"]["list"]["Attribute"]
    assert keys(attr if isinstance(attr, dict) else attr[0]) == {"name", "value"}
    assert {"id", "name", "date"} <= keys(apps[0]["lastScan"])


def test_finding_search_fields_match_the_sample_per_type(
    samples: Path,
) -> None:
    """Non-verbose findings have exactly the sample's fields for each type (IG: no url/status)."""
    real = parse(read_sample(samples, "search_was_finding_86.xml"))["ServiceResponse"]
    sim = Simulator(Dataset.generate(webapps=4, findings=300, seed=3, qid_pool=30))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    ours = parse(
        client.post(
            "/qps/rest/3.0/search/was/finding",
            content=search_body(
                ("type", "IN", "VULNERABILITY,INFORMATION_GATHERED"), limit=1000, verbose=False
            ),
        ).content
    )["ServiceResponse"]
    assert keys(ours) == keys(real)

    def union(findings: list[dict[str, Any]], kind: str) -> set[str]:
        return set().union(*(keys(f) for f in findings if f["type"] == kind))

    for kind in ("VULNERABILITY", "INFORMATION_GATHERED"):
        assert union(ours["data"]["Finding"], kind) == union(real["data"]["Finding"], kind), kind
    assert keys(ours["data"]["Finding"][0]["webApp"]) == {"id", "name", "url"}


def test_verbose_finding_carries_the_documented_extras(client: httpx.Client) -> None:
    """Verbose findings add cwe/list/long, owasp, wasc, history/set/..., cvssV3, resultList."""
    page = parse(
        client.post(
            "/qps/rest/3.0/search/was/finding",
            content=search_body(("type", "EQUALS", "VULNERABILITY"), limit=200),
        ).content
    )
    findings = page["ServiceResponse"]["data"]["Finding"]
    seen = set().union(*(keys(f) for f in findings))
    assert {"cwe", "owasp", "wasc", "history", "cvssV3", "resultList", "updatedDate"} <= seen
    assert any("cvssV3" not in f for f in findings), "some findings must lack cvssV3"
    with_cvss = next(f for f in findings if "cvssV3" in f)
    assert keys(with_cvss["cvssV3"]) == {"base", "temporal", "attackVector"}
    with_history = next(f for f in findings if "history" in f)
    scan = with_history["history"]["set"]["WebAppFindingHistory"]
    scan = scan if isinstance(scan, dict) else scan[0]
    assert {"id", "reference", "launchedDate"} <= keys(scan["scanData"])
    with_cwe = next(f for f in findings if f["cwe"]["count"] != "0")
    assert "long" in with_cwe["cwe"]["list"]


def test_empty_finding_search_is_count_zero_only(client: httpx.Client, samples: Path) -> None:
    """An empty finding search returns SUCCESS and count 0, nothing else, like the sample."""
    real = parse(read_sample(samples, "search_was_finding_empty.xml"))["ServiceResponse"]
    body = search_body(("id", "GREATER", "999999999"))
    ours = parse(client.post("/qps/rest/3.0/search/was/finding", content=body).content)
    assert ours["ServiceResponse"] == {
        **real,
        "@xsi:noNamespaceSchemaLocation": real["@xsi:noNamespaceSchemaLocation"],
    }


def test_empty_webapp_search_matches_its_sample(client: httpx.Client, samples: Path) -> None:
    """An empty web app search has count 0, hasMoreRecords false and an empty data element."""
    real = parse(read_sample(samples, "search_was_webapp_empty.xml"))["ServiceResponse"]
    body = search_body(("id", "GREATER", "999999999"))
    ours = parse(client.post("/qps/rest/3.0/search/was/webapp", content=body).content)
    assert keys(ours["ServiceResponse"]) == keys(real)
    assert ours["ServiceResponse"]["count"] == "0"


def test_invalid_request_matches_the_sample(client: httpx.Client, samples: Path) -> None:
    """A non-numeric webApp.id gets the same INVALID_REQUEST body as real Qualys (HTTP 200)."""
    real = parse(read_sample(samples, "search_was_finding_invalid_request.xml"))
    response = client.post(
        "/qps/rest/3.0/search/was/finding", content=search_body(("webApp.id", "IN", "abc123"))
    )
    assert response.status_code == 200
    assert parse(response.content) == real


def test_portal_version_has_the_sample_structure(client: httpx.Client, samples: Path) -> None:
    """GET portal/version returns the sample's element tree."""
    real = parse(read_sample(samples, "qps_portal_version.xml"))
    ours = parse(client.get("/qps/rest/portal/version").content)
    assert structure(ours) == structure(real)


def test_kb_list_has_the_sample_structure(
    client: httpx.Client, dataset: Dataset, samples: Path
) -> None:
    """KB VULNs use the sample's element names (plus CVSS_V3); CVE_LIST/CVE has ID and URL."""
    real = parse(read_sample(samples, "kb_vuln_list_cve.xml"))
    real43 = parse(read_sample(samples, "kb_vuln_list_43_qids.xml"))
    ids = ",".join(str(e.qid) for e in dataset.kb_entries()[:30])
    ours = parse(
        client.post(
            "/api/2.0/fo/knowledge_base/vuln/",
            headers=KB_HEADERS,
            data={"action": "list", "details": "All", "ids": ids},
        ).content
    )
    assert keys(ours) == keys(real) == {"KNOWLEDGE_BASE_VULN_LIST_OUTPUT"}
    response = ours["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]
    assert keys(response) == keys(real["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"])
    real_vulns = (
        real["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]["VULN_LIST"]["VULN"]
        + real43["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]["VULN_LIST"]["VULN"]
    )
    real_keys = set().union(*(keys(v) for v in real_vulns))
    ours_keys = set().union(*(keys(v) for v in response["VULN_LIST"]["VULN"]))
    assert ours_keys - real_keys == {"CVSS_V3"}
    assert {
        "QID",
        "TITLE",
        "CATEGORY",
        "SEVERITY_LEVEL",
        "DIAGNOSIS",
        "CONSEQUENCE",
        "SOLUTION",
        "PUBLISHED_DATETIME",
        "LAST_SERVICE_MODIFICATION_DATETIME",
        "CVE_LIST",
    } <= ours_keys
    with_cvss = next(v for v in response["VULN_LIST"]["VULN"] if "CVSS_V3" in v)
    assert {"BASE", "TEMPORAL", "VECTOR_STRING"} <= keys(with_cvss["CVSS_V3"])
    with_cve = next(v for v in response["VULN_LIST"]["VULN"] if "CVE_LIST" in v)
    assert keys(with_cve["CVE_LIST"]["CVE"][0]) == {"ID", "URL"}


def test_kb_unknown_qid_matches_the_sample(
    client: httpx.Client, samples: Path, dataset: Dataset
) -> None:
    """A KB call for only unknown QIDs returns a RESPONSE with DATETIME and no VULN_LIST."""
    real = parse(read_sample(samples, "kb_vuln_list_unknown_qid.xml"))
    ids = ",".join(str(q) for q in dataset.unknown_qids)
    ours = parse(
        client.post(
            "/api/2.0/fo/knowledge_base/vuln/",
            headers=KB_HEADERS,
            data={"action": "list", "details": "All", "ids": ids},
        ).content
    )
    assert structure(ours) == structure(real)


def test_invalid_credentials_bodies_match_the_samples(dataset: Dataset, samples: Path) -> None:
    """Wrong credentials: QPS answers HTTP 200 INVALID_CREDENTIALS, the KB HTTP 401 Bad Login."""
    real = parse(read_sample(samples, "qps_invalid_credentials_http200.xml"))["ServiceResponse"]
    client = httpx.Client(
        transport=httpx.WSGITransport(app=Simulator(dataset)),
        base_url="http://q.test",
        auth=("sim", "wrong"),
    )
    qps = client.post("/qps/rest/3.0/search/was/finding", content=search_body())
    assert qps.status_code == 200
    ours = parse(qps.content)["ServiceResponse"]
    assert {k: v for k, v in ours.items() if not k.startswith("@")} == {
        k: v for k, v in real.items() if not k.startswith("@")
    }
    kb = client.post(
        "/api/2.0/fo/knowledge_base/vuln/", headers=KB_HEADERS, data={"action": "list"}
    )
    assert kb.status_code == 401
    assert parse(kb.content)["SIMPLE_RETURN"]["RESPONSE"]["TEXT"] == "Bad Login/Password"


def test_kb_parameter_error_matches_the_1905_sample(client: httpx.Client, samples: Path) -> None:
    """A bad `ids` value gets HTTP 400 and the same SIMPLE_RETURN 1905 text as real Qualys."""
    real = parse(read_sample(samples, "kb_simple_return_1905_http400.xml"))
    response = client.post(
        "/api/2.0/fo/knowledge_base/vuln/",
        headers=KB_HEADERS,
        data={"action": "list", "ids": "abc123"},
    )
    assert response.status_code == 400
    ours = parse(response.content)
    assert structure(ours) == structure(real)
    assert ours["SIMPLE_RETURN"]["RESPONSE"]["TEXT"] == real["SIMPLE_RETURN"]["RESPONSE"]["TEXT"]
    assert ours["SIMPLE_RETURN"]["RESPONSE"]["CODE"] == "1905"
