"""The Dockerfile installs what pyproject.toml declares and runs the declared entry point.

No Docker engine is available here, so the Dockerfile is read as data: its instructions are
parsed, and the files it copies are copied into a temporary directory where setuptools must find
exactly the packages it finds in the repository.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from setuptools import find_packages

from connector.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DEPLOYMENT_DOC = ROOT / "README.md"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def only(keyword: str) -> str:
    found = [args for kw, args in instructions() if kw == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for kw, args in instructions():
        if kw == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                values[key] = value
    return values


def copied_sources() -> list[str]:
    sources: list[str] = []
    for kw, args in instructions():
        if kw == "COPY":
            *srcs, _dest = args.split()
            sources.extend(s.rstrip("/") for s in srcs)
    return sources


def test_base_image_is_slim_python_matching_requires_python() -> None:
    """FROM python:3.11-slim, a Python pyproject.toml accepts."""
    assert only("FROM") == "python:3.11-slim"
    assert pyproject()["project"]["requires-python"] == ">=3.11"


def test_the_copied_tree_holds_every_package_pyproject_declares(tmp_path: Path) -> None:
    """Copying what the Dockerfile copies gives setuptools the same packages as the repository."""
    for source in copied_sources():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, tmp_path / source)
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    in_repo = set(find_packages(where=str(ROOT), include=include))
    in_image = set(find_packages(where=str(tmp_path), include=include))
    assert {"connector", "connector.commands", "connector.service", "migrations"} <= in_repo
    assert in_image == in_repo
    assert (tmp_path / "pyproject.toml").is_file()
    assert (tmp_path / pyproject()["project"]["readme"]).is_file()  # setuptools needs it


def test_the_package_is_installed_with_pip_from_the_copied_source() -> None:
    """The install step is a plain `pip install .` after the source is copied (README quotes it)."""
    steps = instructions()
    runs = [i for i, (kw, args) in enumerate(steps) if kw == "RUN" and args == "pip install ."]
    assert len(runs) == 1
    copies = [i for i, (kw, _) in enumerate(steps) if kw == "COPY"]
    assert copies
    assert max(copies) < runs[0]


def test_dockerignore_keeps_the_copied_sources_in_the_context() -> None:
    """Every path the Dockerfile copies is re-included by .dockerignore (which excludes all else)."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert "*" in lines
    assert set(copied_sources()) <= included


def test_entrypoint_is_the_console_script_and_cmd_is_serve() -> None:
    """ENTRYPOINT runs the `connector` script pyproject declares; CMD is a real subcommand."""
    assert json.loads(only("ENTRYPOINT")) == ["connector"]
    assert pyproject()["project"]["scripts"]["connector"] == "connector.cli:run"
    cmd = json.loads(only("CMD"))
    assert cmd == ["serve"]
    assert build_parser().parse_args(cmd).command == "serve"


def test_runs_as_the_unprivileged_user_it_creates() -> None:
    """USER is not root, and is the user the image creates, owning /data."""
    user = only("USER")
    assert user not in ("root", "0")
    creating = [args for kw, args in instructions() if kw == "RUN" and "useradd" in args]
    assert creating
    assert user in creating[0].split()
    assert f"chown {user}:{user} /data" in creating[0]


def test_volume_workdir_port_and_listen_agree() -> None:
    """VOLUME /data (the SQLite database there), the service listens on 0.0.0.0:9108, exposed."""
    assert only("VOLUME") == "/data"
    assert [args for kw, args in instructions() if kw == "WORKDIR"][-1] == "/data"
    assert only("EXPOSE") == "9108"
    values = env()
    assert values["CONNECTOR_SERVICE_LISTEN"] == "0.0.0.0:9108"
    assert values["CONNECTOR_DATABASE_URL"] == "sqlite:////data/connector.db"
    assert values["CONNECTOR_CONFIG"] == "/etc/connector/config.toml"
    assert values["CONNECTOR_QUALYS_PASSWORD_FILE"] == "/run/secrets/qualys_password"


def test_healthcheck_requests_healthz_with_python() -> None:
    """HEALTHCHECK runs python's urllib against /healthz on the exposed port."""
    check = only("HEALTHCHECK")
    assert "CMD" in check
    command = json.loads(check.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    assert "urllib.request.urlopen('http://127.0.0.1:9108/healthz'" in command[2]


@pytest.mark.parametrize(
    "text",
    [
        "docker build -t qualys-was-connector .",
        "pip install .",
        "COPY connector/ connector/",
        "/run/secrets/qualys_password",
        "CONNECTOR_DATABASE_URL",
        "connector db upgrade",
    ],
)
def test_deployment_doc_quotes_the_dockerfile(text: str) -> None:
    """The README's deployment section uses the Dockerfile's words."""
    assert text in DEPLOYMENT_DOC.read_text(encoding="utf-8")
    if text.startswith(("pip ", "COPY ")):
        assert text in DOCKERFILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "text",
    [
        "kind: Deployment",
        "replicas: 1",
        "type: Recreate",
        "kind: Secret",
        "mountPath: /run/secrets",
        "kind: ConfigMap",
        "mountPath: /etc/connector",
        "kind: PersistentVolumeClaim",
        "mountPath: /data",
        "httpGet: {path: /healthz, port: http}",
        "httpGet: {path: /readyz, port: http}",
        'prometheus.io/scrape: "true"',
        'prometheus.io/port: "9108"',
        "runAsUser: 10001",
    ],
)
def test_kubernetes_example_has_the_pieces_ops_need(text: str) -> None:
    """deploy/kubernetes.yaml: one Recreate replica, secret file, config, volume, probes, scraping."""
    assert text in (ROOT / "deploy" / "kubernetes.yaml").read_text(encoding="utf-8")
