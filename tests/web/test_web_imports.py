"""The import flow of the seed product through the console: upload, built-in / saved / new
mapping (fields with the required checks, severity values including ones the file lacks), import,
View Summary; the size cap; and the Scan Mappings pages."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from connector.store import imports as store_imports
from connector.store.schema import findings, imported_scans
from connector.web.app import create_app
from connector.web.state import Console

from .conftest import Runners, csrf_token, log_in, make_console, web_config

FLAT = (
    "Name,URL,QID,Port,Risk,Notes\n"
    "SQL injection,https://app.example.com/login,150003,443,P1,first\n"
    "SQL injection,https://app.example.com/login,150003,8443,P1,same finding other port\n"
    "Weak TLS,https://app.example.com/,38116,443,P3,\n"
    "Cookie without Secure,https://app.example.com/account,150122,443,P2,\n"
)


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The import flow's SQL is the importer's (tested on both dialects there): SQLite here."""
    return sqlite_url


def upload(client: TestClient, name: str, content: bytes) -> str:
    """Upload a file; returns the choose-mapping page's URL."""
    token = csrf_token(client.get("/imports/new").text)
    response = client.post(
        "/imports/new", data={"csrf_token": token}, files={"file": (name, content, "text/csv")}
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def stored_findings(console: Console) -> list[sa.RowMapping]:
    with console.engine.connect() as conn:
        return list(
            conn.execute(sa.select(findings).where(findings.c.source == "import")).mappings()
        )


def test_the_whole_flow_with_a_new_mapping(client: TestClient, console: Console) -> None:
    """Upload a CSV, create a mapping (fields, then severity values plus one the file lacks),
    import, View Summary: findings stored, ports merged, the mapping saved for later files."""
    choose = upload(client, "scanner export.csv", FLAT.encode())
    page = client.get(choose)
    assert "Create New Mapping" in page.text and "CSV file" in page.text
    fields_url = f"{choose}/mapping"
    fields = client.get(fields_url)
    assert 'value="Name" selected' in fields.text, "Title is suggested from the Name column"
    form = {
        "csrf_token": csrf_token(fields.text), "name": "acme-scanner", "col_title": "Name",
        "col_url": "URL", "col_source_id": "QID", "col_port": "Port", "col_severity": "Risk",
    }  # fmt: skip
    response = client.post(fields_url, data=form)
    assert response.status_code == 303
    severity = client.get(response.headers["location"])
    for value in ("P1", "P2", "P3"):
        assert f'value="{value}"' in severity.text, "the file's values are listed"
    token = csrf_token(severity.text)
    rows = {"value_0": "P1", "label_0": "Critical", "value_1": "P2", "label_1": "Medium",
            "value_2": "P3", "label_2": "Low"}  # fmt: skip
    more = client.post(
        response.headers["location"], data={"csrf_token": token, **rows, "action": "add"}
    )
    assert more.text.count('name="value_') == 3 + 4, "one more empty row to add a value"
    rows.update({"value_3": "P4", "label_3": "Low"})  # a value this file lacks
    done = client.post(
        response.headers["location"], data={"csrf_token": token, **rows, "action": "import"}
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/imports/done/")
    message = client.get(done.headers["location"])
    assert "Scan imported" in message.text and "View Summary" in message.text
    scan_id = done.headers["location"].rsplit("/", 1)[1]
    summary = unescape(client.get(f"/imports/{scan_id}").text)
    assert "scanner export.csv" in summary and "acme-scanner" in summary
    stored = stored_findings(console)
    assert len(stored) == 3
    sqli = next(f for f in stored if f["qid"] == 150003)
    assert sqli["severity"] == "Critical" and sorted(sqli["ports"]) == [443, 8443]
    with console.engine.connect() as conn:
        mapping = store_imports.load_mapping(conn, console.connector, "acme-scanner")
    assert mapping is not None
    assert mapping.definition["severity_values"] == {
        "P1": "Critical",
        "P2": "Medium",
        "P3": "Low",
        "P4": "Low",
    }
    assert "Imported Scans" in client.get("/imports").text
    assert "scanner export.csv" in client.get("/imports").text
    listed = client.get(f"/findings?scan={scan_id}")
    assert "3</strong> findings match" in listed.text


def test_required_fields_are_checked(client: TestClient, console: Console) -> None:
    """Without Title, or without Host or URL, the field step says what to map and saves nothing."""
    choose = upload(client, "f.csv", FLAT.encode())
    page = client.get(f"{choose}/mapping")
    response = client.post(
        f"{choose}/mapping",
        data={"csrf_token": csrf_token(page.text), "name": "incomplete", "col_port": "Port"},
    )
    assert response.status_code == 400
    text = unescape(response.text)
    assert "map Title to a column of the file (required)" in text
    assert "map URL or Host IP to a column of the file (required)" in text
    with console.engine.connect() as conn:
        assert store_imports.list_mappings(conn, console.connector) == []


def test_a_saved_mapping_is_offered_for_the_next_file(client: TestClient, console: Console) -> None:
    """A second file of the same shape imports with the saved mapping in one step."""
    with console.engine.begin() as conn:
        store_imports.save_mapping(
            conn, console.connector, "saved-one",
            {"format": "flat_csv", "columns": {"title": "Name", "url": "URL", "source_id": "QID",
             "severity": "Risk"}, "severity_values": {"P1": "High", "P2": "Low", "P3": "Low"}},
            now=console.clock(),
        )  # fmt: skip
    choose = upload(client, "second.csv", FLAT.encode())
    page = client.get(choose)
    assert 'value="saved-one"' in page.text
    done = client.post(choose, data={"csrf_token": csrf_token(page.text), "mapping": "saved-one"})
    assert done.status_code == 303
    assert {f["severity"] for f in stored_findings(console)} == {"High", "Low"}


def test_a_was_report_imports_with_the_built_in_mapping(
    client: TestClient, console: Console, samples: Path
) -> None:
    """The real WAS CSV report sample imports with the built-in mapping, preselected."""
    content = (samples / "was_scan_report_584455.csv").read_bytes()
    choose = upload(client, "was_scan_report_584455.csv", content)
    page = client.get(choose)
    assert "Qualys WAS scan report (CSV)" in page.text
    assert 'value="qualys-was-csv" checked' in page.text
    done = client.post(
        choose, data={"csrf_token": csrf_token(page.text), "mapping": "qualys-was-csv"}
    )
    assert done.status_code == 303
    with console.engine.connect() as conn:
        scan = conn.execute(sa.select(imported_scans)).mappings().one()
    assert scan["counts"]["findings"] == len(stored_findings(console)) + scan["counts"]["kept"]
    assert scan["counts"]["findings"] > 0


def test_a_bad_file_changes_nothing(client: TestClient, console: Console) -> None:
    """A file whose severity value the mapping lacks fails with the importer's one-line message
    (no temporary path) and writes nothing; the upload stays for another try."""
    with console.engine.begin() as conn:
        store_imports.save_mapping(
            conn, console.connector, "strict",
            {"format": "flat_csv", "columns": {"title": "Name", "url": "URL", "severity": "Risk"},
             "severity_values": {"P1": "High"}}, now=console.clock(),
        )  # fmt: skip
    choose = upload(client, "bad.csv", FLAT.encode())
    page = client.get(choose)
    response = client.post(choose, data={"csrf_token": csrf_token(page.text), "mapping": "strict"})
    assert response.status_code == 422
    text = unescape(response.text)
    assert "nothing was imported" in text and "bad.csv" in text
    assert str(console.uploads.root) not in text
    assert stored_findings(console) == []
    assert client.get(choose).status_code == 200


def test_uploads_over_the_cap_are_refused(synced, runners: Runners) -> None:  # type: ignore[no-untyped-def]
    """A file over [web] upload_max_mb gets 413 and leaves no file behind."""
    console = make_console(synced.engine, web_config(synced.config, upload_max_mb=1), runners)
    with TestClient(create_app(console), follow_redirects=False) as client:
        log_in(client)
        token = csrf_token(client.get("/imports/new").text)
        big = b"Name,URL\n" + b"x,https://a.example/\n" * 60_000  # 1.2 MB
        response = client.post(
            "/imports/new", data={"csrf_token": token}, files={"file": ("big.csv", big)}
        )
        assert response.status_code == 413
        assert "larger than 1 MB" in response.text
        huge = b"x" * (3 * 1024 * 1024)  # past the whole request's cap too
        response = client.post(
            "/imports/new", data={"csrf_token": token}, files={"file": ("huge.csv", huge)}
        )
        assert response.status_code == 413
    assert list(console.uploads.root.iterdir()) == []
    console.uploads.close()


def test_mappings_show_edit_and_delete(client: TestClient, console: Console) -> None:
    """A saved mapping's severity values can be changed and added to, then the mapping deleted;
    a built-in one is read-only."""
    with console.engine.begin() as conn:
        store_imports.save_mapping(
            conn, console.connector, "editable",
            {"format": "flat_csv", "columns": {"title": "Name", "url": "URL", "severity": "Risk"},
             "severity_values": {"P1": "High"}}, now=console.clock(),
        )  # fmt: skip
    page = client.get("/mappings/editable")
    assert page.status_code == 200 and 'value="P1"' in page.text
    token = csrf_token(page.text)
    saved = client.post(
        "/mappings/editable",
        data={"csrf_token": token, "value_0": "P1", "label_0": "Critical", "value_1": "P9",
              "label_1": "None", "action": "save"},
    )  # fmt: skip
    assert saved.status_code == 303
    with console.engine.connect() as conn:
        stored = store_imports.load_mapping(conn, console.connector, "editable")
    assert stored is not None
    assert stored.definition["severity_values"] == {"P1": "Critical", "P9": "None"}
    assert "The severity values were saved" in client.get(saved.headers["location"]).text
    builtin = client.get("/mappings/qualys-was-csv")
    assert builtin.status_code == 200 and "cannot be changed" in builtin.text
    assert (
        client.post("/mappings/qualys-was-csv/delete", data={"csrf_token": token}).status_code
        == 403
    )
    gone = client.post("/mappings/editable/delete", data={"csrf_token": token})
    assert gone.status_code == 303
    assert client.get("/mappings/editable").status_code == 404
    assert re.search(r"editable</a>", client.get("/mappings").text) is None
