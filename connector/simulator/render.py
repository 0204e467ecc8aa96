"""Rendering records as Qualys XML elements (WebApp, Finding, KB VULN), shaped like real samples."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from connector.simulator.records import Cvss3, FindingRecord, KbEntry, Reference, WebAppRecord
from connector.simulator.xmlout import cdata, esc


@lru_cache(maxsize=1 << 16)
def qualys_date(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the only date format Qualys uses (cached: dates repeat a lot)."""
    return value.isoformat(timespec="seconds")[:19] + "Z"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def render_webapp(w: WebAppRecord, verbose: bool) -> str:
    """One `<WebApp>`: the default fields, plus tags, attributes and lastScan when verbose."""
    p = [
        "    <WebApp>\n",
        f"      <id>{w.id}</id>\n",
        f"      <name>{cdata(w.name)}</name>\n",
        f"      <url>{cdata(w.url)}</url>\n",
    ]
    if verbose:
        p.append(f"      <os>{cdata('Linux 3.x')}</os>\n")
        p.append(
            f"      <owner>\n        <id>{w.owner_id}</id>\n"
            "        <username>sim_user</username>\n"
            "        <firstName><![CDATA[Sim]]></firstName>\n"
            "        <lastName><![CDATA[User]]></lastName>\n      </owner>\n"
        )
        p.append("      <scope>ALL</scope>\n")
        p.append(f"      <attributes>\n        <count>{len(w.attributes)}</count>\n")
        if w.attributes:
            p.append("        <list>\n")
            for name, value in w.attributes:
                p.append(
                    f"          <Attribute>\n            <name>{cdata(name)}</name>\n"
                    f"            <value>{cdata(value)}</value>\n          </Attribute>\n"
                )
            p.append("        </list>\n")
        p.append("      </attributes>\n")
        p.append(f"      <tags>\n        <count>{len(w.tags)}</count>\n")
        if w.tags:
            p.append("        <list>\n")
            for tag in w.tags:
                p.append(
                    f"          <Tag>\n            <id>{tag.id}</id>\n"
                    f"            <name>{cdata(tag.name)}</name>\n          </Tag>\n"
                )
            p.append("        </list>\n")
        p.append("      </tags>\n")
        if w.last_scan is not None:
            s = w.last_scan
            p.append(
                f"      <lastScan>\n        <id>{s.id}</id>\n"
                f"        <name>{cdata(s.name)}</name>\n"
                f"        <date>{qualys_date(s.date)}</date>\n"
                "        <summary>\n          <resultsStatus>SUCCESSFUL</resultsStatus>\n"
                "          <authStatus>NONE</authStatus>\n        </summary>\n"
                "      </lastScan>\n"
            )
        p.append("      <isScheduled>false</isScheduled>\n")
        p.append("      <createdBy>\n        <id>17729931</id>\n      </createdBy>\n")
    else:
        p.append(f"      <owner>\n        <id>{w.owner_id}</id>\n      </owner>\n")
        p.append(f"      <tags>\n        <count>{len(w.tags)}</count>\n      </tags>\n")
    p.append(f"      <createdDate>{qualys_date(w.created_date)}</createdDate>\n")
    p.append(f"      <updatedDate>{qualys_date(w.updated_date)}</updatedDate>\n")
    p.append("    </WebApp>\n")
    return "".join(p)


def _references(tag: str, item: str, refs: tuple[Reference, ...]) -> str:
    p = [f"      <{tag}>\n        <count>{len(refs)}</count>\n"]
    if refs:
        p.append("        <list>\n")
        for r in refs:
            p.append(
                f"          <{item}>\n            <name>{cdata(r.name)}</name>\n"
                f"            <url>{cdata(r.url)}</url>\n"
                f"            <code>{esc(r.code)}</code>\n          </{item}>\n"
            )
        p.append("        </list>\n")
    p.append(f"      </{tag}>\n")
    return "".join(p)


@lru_cache(maxsize=4096)
def _cvss_v3(c: Cvss3) -> str:
    return (
        f"      <cvssV3>\n        <base>{c.base}</base>\n"
        f"        <temporal>{c.temporal}</temporal>\n"
        f"        <attackVector>{esc(c.attack_vector)}</attackVector>\n      </cvssV3>\n"
    )


def render_finding(f: FindingRecord, verbose: bool) -> str:
    """One `<Finding>` in the element order real responses use; absent fields are left out."""
    p = [
        "    <Finding>\n",
        f"      <id>{f.id}</id>\n",
        f"      <uniqueId>{f.unique_id}</uniqueId>\n",
        f"      <qid>{f.qid}</qid>\n",
        f"      <name>{cdata(f.name)}</name>\n",
        f"      <type>{f.type}</type>\n",
        f"      <potential>{_bool(f.potential)}</potential>\n",
        "      <findingType>QUALYS</findingType>\n",
    ]
    if verbose:
        p.append(_classifications(f))
    p.append(f"      <severity>{f.severity}</severity>\n")
    if f.url is not None:
        p.append(f"      <url>{cdata(f.url)}</url>\n")
    if f.param is not None:
        p.append(f"      <param>{cdata(f.param)}</param>\n")
    if f.status is not None:
        p.append(f"      <status>{f.status}</status>\n")
    p.append(f"      <firstDetectedDate>{qualys_date(f.first_detected)}</firstDetectedDate>\n")
    p.append(f"      <lastDetectedDate>{qualys_date(f.last_detected)}</lastDetectedDate>\n")
    p.append(f"      <lastTestedDate>{qualys_date(f.last_tested)}</lastTestedDate>\n")
    if f.times_detected is not None:
        p.append(f"      <timesDetected>{f.times_detected}</timesDetected>\n")
    p.append(
        f"      <webApp>\n        <id>{f.webapp_id}</id>\n"
        f"        <name>{cdata(f.webapp_name)}</name>\n"
        f"        <url>{cdata(f.webapp_url)}</url>\n      </webApp>\n"
    )
    if f.is_ignored is not None:
        p.append(f"      <isIgnored>{_bool(f.is_ignored)}</isIgnored>\n")
    if verbose:
        p.append(_verbose_tail(f))
    p.append("    </Finding>\n")
    return "".join(p)


def _classifications(f: FindingRecord) -> str:
    """cwe, owasp, wasc and resultList: the verbose elements before `severity`."""
    return _cwe_owasp_wasc(f.cwe, f.owasp, f.wasc) + _result_list(f)


@lru_cache(maxsize=4096)
def _cwe_owasp_wasc(
    cwe: tuple[int, ...], owasp: tuple[Reference, ...], wasc: tuple[Reference, ...]
) -> str:
    """The same for every finding of a QID, so rendered once per QID."""
    p: list[str] = []
    p.append(f"      <cwe>\n        <count>{len(cwe)}</count>\n")
    if cwe:
        p.append("        <list>\n")
        p.extend(f"          <long>{c}</long>\n" for c in cwe)
        p.append("        </list>\n")
    p.append("      </cwe>\n")
    p.append(_references("owasp", "OWASP", owasp))
    p.append(_references("wasc", "WASC", wasc))
    return "".join(p)


def _verbose_tail(f: FindingRecord) -> str:
    """The verbose elements after `isIgnored`: ignore details, history, cvssV3, dates."""
    p: list[str] = []
    if f.ignored_reason is not None:
        p.append(f"      <ignoredReason>{f.ignored_reason}</ignoredReason>\n")
        p.append("      <ignoredBy>\n        <id>17729931</id>\n      </ignoredBy>\n")
        if f.ignored_date is not None:
            p.append(f"      <ignoredDate>{qualys_date(f.ignored_date)}</ignoredDate>\n")
        if f.ignored_comment is not None:
            p.append(f"      <ignoredComment>{cdata(f.ignored_comment)}</ignoredComment>\n")
    if f.history:
        p.append("      <history>\n        <set>\n")
        for h in f.history:
            p.append(
                "          <WebAppFindingHistory>\n            <scanData>\n"
                f"              <id>{h.scan_id}</id>\n"
                f"              <reference>{esc(h.reference)}</reference>\n"
                f"              <launchedDate>{qualys_date(h.launched)}</launchedDate>\n"
                "            </scanData>\n          </WebAppFindingHistory>\n"
            )
        p.append("        </set>\n      </history>\n")
    if f.cvss is not None:
        p.append(_cvss_v3(f.cvss))
    if f.fixed_date is not None:
        p.append(f"      <fixedDate>{qualys_date(f.fixed_date)}</fixedDate>\n")
    p.append(f"      <updatedDate>{qualys_date(f.updated_date)}</updatedDate>\n")
    return "".join(p)


def _result_list(f: FindingRecord) -> str:
    if f.type == "INFORMATION_GATHERED":
        body = f"            <result>{cdata(f.payload)}</result>\n"
    else:
        body = (
            "            <payloads>\n              <count>1</count>\n              <list>\n"
            "                <PayloadInstance>\n"
            f"                  <payload>{cdata(f.param or '')}</payload>\n"
            "                  <request>\n                    <method>GET</method>\n"
            f"                    <link>{cdata(f.url or f.webapp_url)}</link>\n"
            "                  </request>\n"
            f"                  <response>{cdata(f.payload)}</response>\n"
            "                </PayloadInstance>\n              </list>\n            </payloads>\n"
        )
    return (
        "      <resultList>\n        <count>1</count>\n        <list>\n          <Result>\n"
        "            <authentication>false</authentication>\n            <ajax>false</ajax>\n"
        f"{body}          </Result>\n        </list>\n      </resultList>\n"
    )


def render_kb_vuln(e: KbEntry, details: str) -> str:
    """One KB `<VULN>`; `details` is All, Basic (no DIAGNOSIS/CONSEQUENCE/SOLUTION) or None."""
    p = ["      <VULN>\n", f"        <QID>{e.qid}</QID>\n"]
    if details == "None":
        p.append("      </VULN>\n")
        return "".join(p)
    p.append(f"        <VULN_TYPE>{esc(e.vuln_type)}</VULN_TYPE>\n")
    p.append(f"        <SEVERITY_LEVEL>{e.severity}</SEVERITY_LEVEL>\n")
    p.append(f"        <TITLE>{cdata(e.title)}</TITLE>\n")
    p.append(f"        <CATEGORY>{esc(e.category)}</CATEGORY>\n")
    p.append(
        "        <LAST_SERVICE_MODIFICATION_DATETIME>"
        f"{qualys_date(e.last_modified)}</LAST_SERVICE_MODIFICATION_DATETIME>\n"
    )
    p.append(f"        <PUBLISHED_DATETIME>{qualys_date(e.published)}</PUBLISHED_DATETIME>\n")
    p.append("        <PATCHABLE>0</PATCHABLE>\n")
    if e.cves:
        p.append("        <CVE_LIST>\n")
        for cve in e.cves:
            link = f"https://cve.mitre.org/cgi-bin/cvename.cgi?name={cve}"
            p.append(
                f"          <CVE>\n            <ID>{cdata(cve)}</ID>\n"
                f"            <URL>{cdata(link)}</URL>\n          </CVE>\n"
            )
        p.append("        </CVE_LIST>\n")
    if details == "All":
        p.append(f"        <DIAGNOSIS>{cdata(e.diagnosis)}</DIAGNOSIS>\n")
        p.append(f"        <CONSEQUENCE>{cdata(e.consequence)}</CONSEQUENCE>\n")
        p.append(f"        <SOLUTION>{cdata(e.solution)}</SOLUTION>\n")
    p.append("        <PCI_FLAG>1</PCI_FLAG>\n")
    if e.cvss is not None:
        c = e.cvss
        p.append(
            f"        <CVSS_V3>\n          <BASE>{c.base}</BASE>\n"
            f"          <TEMPORAL>{c.temporal}</TEMPORAL>\n"
            f"          <VECTOR_STRING>{esc(c.vector_string)}</VECTOR_STRING>\n"
            f"          <ATTACK>\n            <VECTOR>{esc(c.attack_vector)}</VECTOR>\n"
            "          </ATTACK>\n          <CVSS3_VERSION>3.1</CVSS3_VERSION>\n"
            "        </CVSS_V3>\n"
        )
    p.append("        <DISCOVERY>\n          <REMOTE>1</REMOTE>\n        </DISCOVERY>\n")
    p.append("      </VULN>\n")
    return "".join(p)
