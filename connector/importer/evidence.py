"""A finding's evidence text from a report row: payloads, requests (and bodies), responses."""

from __future__ import annotations

from connector.importer.report import Payload

TRUNCATED_MARKER = "\n[... evidence truncated: {kept} of {total} bytes kept]"


def cap_evidence(text: str | None, max_bytes: int) -> str | None:
    """At most `max_bytes` UTF-8 bytes of text, with a marker saying how much was cut."""
    if not text or max_bytes <= 0:
        return None
    if len(text) * 4 <= max_bytes:  # cannot be over: skip the encode (most rows)
        return text
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    marker = TRUNCATED_MARKER.format(kept=max_bytes, total=len(data))
    keep = max(max_bytes - len(marker.encode()), 0)
    return data[:keep].decode("utf-8", "ignore") + marker


def evidence_text(
    payloads: tuple[Payload, ...], results: str | None, report_id: str | None = None
) -> str | None:
    """Readable evidence: each payload with its request (and body) and response, or the
    gathered results; the report's own result id first when there is one."""
    parts: list[str] = [f"Report result ID: {report_id}"] if report_id else []
    if results:
        parts.append(results)
    for p in payloads:
        lines = [f"Payload #{p.num}: {p.payload or ''}".rstrip()]
        if p.method or p.url:
            lines.append(f"Request: {p.method or ''} {p.url or ''}".rstrip())
        if p.headers:
            lines.append(p.headers.rstrip())
        if p.body:
            lines.append("Request body:\n" + p.body)
        if p.response:
            lines.append("Response:\n" + p.response)
        if p.evidence:
            lines.append("Evidence: " + p.evidence)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) or None
