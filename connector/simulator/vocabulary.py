"""The words and numbers a generated tenant is made of: titles, classifications, hosts, paths."""

from __future__ import annotations

STATUS_WEIGHTS = ((1, 0.18), (2, 0.47), (3, 0.08), (4, 0.22), (5, 0.05))
ATTACK_VECTORS = (("Network", "N"), ("Adjacent Network", "A"), ("Local", "L"), ("Physical", "P"))
BOUNDARY_SCORES = (0.0, 0.1, 3.9, 4.0, 6.9, 7.0, 8.9, 9.0, 10.0)
SEVERITY_CVSS = {1: (0.1, 3.9), 2: (2.0, 5.5), 3: (4.0, 6.9), 4: (7.0, 8.9), 5: (9.0, 10.0)}

VULN_TITLES = (
    ("Cross-Site Scripting (XSS)", 79),
    ("SQL Injection", 89),
    ("Blind SQL Injection", 89),
    ("Path Traversal", 22),
    ("OS Command Injection", 78),
    ("Clickjacking - Framable Page", 1021),
    ("Cross-Site Request Forgery", 352),
    ("Open Redirect", 601),
    ("Server-Side Request Forgery", 918),
    ("XML External Entity Injection", 611),
    ("Insecure Deserialization", 502),
    ("Session Cookie Without Secure Flag", 614),
    ("Cookie Without HttpOnly Flag", 1004),
    ("Path-relative stylesheet import (PRSSI) vulnerability", 20),
    ("Vulnerable JavaScript Library", 1104),
    ("HTTP Strict Transport Security Not Enabled", 523),
    ("Content Security Policy Not Implemented", 693),
    ("Directory Listing Enabled", 548),
    ("Weak TLS Cipher Suites", 326),
    ("Server Version Disclosure", 200),
)
SENSITIVE_TITLES = (
    ("Credit Card Number Disclosed", 359),
    ("Social Security Number Disclosed", 359),
    ("Email Address Disclosed", 200),
    ("Private Key Disclosed", 321),
    ("Internal IP Address Disclosed", 200),
)
INFO_TITLES = (
    "Information Disclosure via Response Header",
    "In-scope JavaScript Libraries Detected",
    "Missing header: Referrer-Policy",
    "Email Addresses Collected",
    "Web Server and Technologies Detected",
    "Links Rejected By Crawl Scope or Exclusion List",
    "Scan Diagnostics",
    "Forms Crawled",
    "Links With High Resource Consumption",
    "Host Scan Time - Scanner",
)
OWASP = (
    ("Broken Access Control", "https://owasp.org/Top10/A01_2021-Broken_Access_Control/", "1"),
    ("Cryptographic Failures", "https://owasp.org/Top10/A02_2021-Cryptographic_Failures/", "2"),
    ("Injection", "https://owasp.org/Top10/A03_2021-Injection/", "3"),
    ("Insecure Design", "https://owasp.org/Top10/A04_2021-Insecure_Design/", "4"),
    (
        "Security Misconfiguration",
        "https://owasp.org/Top10/A05_2021-Security_Misconfiguration/",
        "5",
    ),
    ("Vulnerable and Outdated Components", "https://owasp.org/Top10/A06_2021/", "6"),
)
WASC = (
    ("Cross-site Scripting", "http://projects.webappsec.org/Cross-Site-Scripting", "8"),
    ("SQL Injection", "http://projects.webappsec.org/SQL-Injection", "19"),
    ("Path Traversal", "http://projects.webappsec.org/Path-Traversal", "33"),
    ("Information Leakage", "http://projects.webappsec.org/Information-Leakage", "13"),
    (
        "Application Misconfiguration",
        "http://projects.webappsec.org/Application-Misconfiguration",
        "15",
    ),
)
TAGS = ("Production", "Staging", "Internal", "PCI", "Team Payments", "Team Web", "Critical", "EU")
ATTRIBUTES = (
    ("Business Unit", ("Finance", "Retail", "HR", "Engineering")),
    ("Owner", ("alice@example.com", "bob@example.com", "carol@example.com")),
    ("Criticality", ("High", "Medium", "Low")),
    ("Environment", ("prod", "test")),
)
HOSTS = ("shop", "portal", "api", "intranet", "blog", "payments", "auth", "docs", "crm", "hr")
PATHS = (
    "/",
    "/login",
    "/search",
    "/cart/add",
    "/api/v1/items",
    "/profile/edit",
    "/docs/",
    "/admin",
)
PARAMS = ("q", "id", "redirect", "user", "page", "file", "token", "callback")
IGNORED_COMMENTS = (
    "Accepted by the application owner",
    "Verified manually",
    "Compensating control",
)
