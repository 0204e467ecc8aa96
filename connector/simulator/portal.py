"""The fixed answer of `GET /qps/rest/portal/version` (shaped like qps_portal_version.xml)."""

from __future__ import annotations

from connector.simulator.xmlout import service_response_open

_PORTAL_VERSIONS = (
    ("PortalApplication-VERSION", "3.11.0.0-3 SIMULATED"),
    ("QWEB__VM-VERSION", "2.11.0"),
    ("ITAM-VERSION", "2.9.0.0-1"),
    ("WAF-VERSION", "2.13.5.0"),
    ("QUESTIONNAIRE__V2-VERSION", "1.19.0.0"),
    ("WAS-VERSION", "1.1.0.0-2"),
    ("ICS-VERSION", "0.9.3.1-6"),
    ("WAF__V3-VERSION", "3.0.4.0"),
    ("CERTVIEW-VERSION", "2.8.5.0-26"),
    ("CLOUDVIEW-VERSION", "1.22.0.1-2"),
    ("MDS-VERSION", "2.19.2.0-98"),
    ("PS-VERSION", "1.4.2.0-1"),
    ("IOC-VERSION", "2.0.0-5"),
    ("OCA-VERSION", "1.7.1.1"),
    ("UD-VERSION", "1.6.0"),
    ("QWEB__PC-VERSION", "1.0.0-38"),
    ("CS-VERSION", "1.15.0-24"),
    ("CA-VERSION", "3.11.0.0"),
    ("SECURITY__ANALYTICS-VERSION", "1.0.4"),
    ("QGS-VERSION", "1.3.3.0-8"),
    ("QUESTIONNAIRE-VERSION", "2.31.0.0"),
    ("FIM-VERSION", "3.4.0.0-18"),
    ("CM-VERSION", "1.35.0.0"),
    ("PM-VERSION", "1.6.0.1-4"),
    ("THREAT__PROTECT-VERSION", "1.8.0"),
    ("AV2-VERSION", "0.1.0"),
    ("SEM-VERSION", "1.4.0-0"),
    ("SSC-VERSION", "1.6.0"),
    ("SM-VERSION", "1.1.0.0-52"),
)
_QWEB_VERSIONS = (
    ("WEB-VERSION", "10.18.2.0-2"),
    ("SCANNER-VERSION", "12.10.24-1"),
    ("VULNSIGS-VERSION", "2.5.484-3"),
)


def portal_version() -> str:
    portal = "".join(f"      <{k}>{v}</{k}>\n" for k, v in _PORTAL_VERSIONS)
    qweb = "".join(f"      <{k}>{v}</{k}>\n" for k, v in _QWEB_VERSIONS)
    return (
        service_response_open("version").replace("/3.0/was/version.xsd", "/version.xsd")
        + "  <responseCode>SUCCESS</responseCode>\n  <count>1</count>\n  <data>\n"
        f"    <Portal-Version>\n{portal}    </Portal-Version>\n"
        f"    <QWeb-Version>\n{qweb}    </QWeb-Version>\n  </data>\n</ServiceResponse>\n"
    )
