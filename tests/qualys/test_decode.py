"""The decode step: list shapes, empty data, comments, and hostile XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import QualysResponseError
from connector.qualys.decode import MalformedXmlError, UnsafeXmlError, as_list, decode

ONE_FINDING = b"""<ServiceResponse><responseCode>SUCCESS</responseCode><count>1</count>
<data><Finding><id>1</id>
  <cwe><count>1</count><list><long>79</long></list></cwe>
  <owasp><count>1</count><list><OWASP><name>Injection</name><code>3</code></OWASP></list></owasp>
  <wasc><count>1</count><list><WASC><name>XSS</name><code>8</code></WASC></list></wasc>
  <history><set><WebAppFindingHistory><scanData><id>9</id></scanData></WebAppFindingHistory></set>
  </history>
  <webApp><id>5</id><tags><count>1</count><list><Tag><id>3</id><name>prod</name></Tag></list></tags>
  </webApp>
</Finding></data></ServiceResponse>"""

TWO_FINDINGS = b"""<ServiceResponse><responseCode>SUCCESS</responseCode><count>2</count>
<data><Finding><id>1</id><cwe><count>2</count><list><long>79</long><long>80</long></list></cwe>
</Finding><Finding><id>2</id></Finding></data></ServiceResponse>"""


def test_one_finding_decodes_to_a_list_of_one_like_many() -> None:
    """A single <Finding> and its single-child lists come back as lists, exactly like many."""
    finding = decode(ONE_FINDING)["ServiceResponse"]["data"]["Finding"]
    assert isinstance(finding, list)
    assert len(finding) == 1
    record = finding[0]
    assert record["cwe"]["list"]["long"] == ["79"]
    assert record["owasp"]["list"]["OWASP"] == [{"name": "Injection", "code": "3"}]
    assert record["wasc"]["list"]["WASC"][0]["code"] == "8"
    assert record["history"]["set"]["WebAppFindingHistory"][0]["scanData"]["id"] == "9"
    assert record["webApp"]["tags"]["list"]["Tag"] == [{"id": "3", "name": "prod"}]


def test_many_findings_decode_to_the_same_shape() -> None:
    """Several <Finding> and several <long> decode to lists of the same element shape."""
    findings = decode(TWO_FINDINGS)["ServiceResponse"]["data"]["Finding"]
    assert [f["id"] for f in findings] == ["1", "2"]
    assert findings[0]["cwe"]["list"]["long"] == ["79", "80"]


def test_real_finding_page_gives_86_records(samples: Path) -> None:
    """The recorded 86-finding page decodes into 86 dict records."""
    doc = decode((samples / "search_was_finding_86.xml").read_bytes())
    findings = doc["ServiceResponse"]["data"]["Finding"]
    assert len(findings) == 86
    assert all(isinstance(f, dict) for f in findings)


def test_real_single_webapp_page_is_a_list(samples: Path) -> None:
    """A recorded page with one <WebApp> decodes to a one-element list."""
    doc = decode((samples / "search_was_webapp_page_has_more.xml").read_bytes())
    webapps = doc["ServiceResponse"]["data"]["WebApp"]
    assert isinstance(webapps, list)
    assert webapps[0]["id"] == "238483924"


def test_empty_data_element_and_missing_data(samples: Path) -> None:
    """An empty <data> decodes to None and no <data> at all is absent; as_list makes both []."""
    empty = decode((samples / "search_was_webapp_empty.xml").read_bytes())["ServiceResponse"]
    assert empty["data"] is None
    assert as_list(empty["data"]) == []
    none = decode((samples / "search_was_finding_empty.xml").read_bytes())["ServiceResponse"]
    assert "data" not in none
    assert none["count"] == "0"


def test_comments_inside_response_are_ignored(samples: Path) -> None:
    """Keep-alive comments inside RESPONSE and after the root leave no trace in the result."""
    doc = decode((samples / "kb_vuln_list_cve.xml").read_bytes())
    response = doc["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]
    assert "#comment" not in response
    vulns = response["VULN_LIST"]["VULN"]
    assert len(vulns) == 1
    assert vulns[0]["CVE_LIST"]["CVE"] == [
        {
            "ID": "CVE-2020-3403",
            "URL": "http://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2020-3403",
        }
    ]


def test_comment_between_elements_does_not_split_text() -> None:
    """A comment between two elements of a list does not change the list."""
    doc = decode(
        b"<R><!-- a --><ITEM_LIST><ITEM>1</ITEM><!-- keep-alive --><ITEM>2</ITEM>"
        b"</ITEM_LIST></R>"
    )
    assert doc["R"]["ITEM_LIST"]["ITEM"] == ["1", "2"]


def test_kb_sample_decodes_every_vuln(samples: Path) -> None:
    """The recorded KB answer decodes to one dict per <VULN> element, each with a QID."""
    raw = (samples / "kb_vuln_list_43_qids.xml").read_bytes()
    doc = decode(raw)
    vulns = doc["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]["VULN_LIST"]["VULN"]
    assert len(vulns) == raw.count(b"<VULN>")
    assert all(v["QID"].isdigit() for v in vulns)


def test_entity_expansion_bomb_is_refused() -> None:
    """A billion-laughs document fails at its entity declarations, before any expansion."""
    levels = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    bomb = f'<?xml version="1.0"?><!DOCTYPE b [{"".join(levels)}]><b>&l9;</b>'.encode()
    with pytest.raises(UnsafeXmlError, match="entities"):
        decode(bomb)


def test_external_entity_is_refused() -> None:
    """An external entity (a file read) is refused, and the error is a QualysResponseError."""
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(QualysResponseError):
        decode(body)


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"<ServiceResponse><responseCode>SUCCESS</respon", b"not xml at all"],
)
def test_empty_or_truncated_bodies_are_malformed(body: bytes) -> None:
    """Empty, truncated or non-XML bodies raise MalformedXmlError (which the client retries)."""
    with pytest.raises(MalformedXmlError):
        decode(body, source="the answer from https://h/qps")
