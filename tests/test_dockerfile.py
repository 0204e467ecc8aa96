"""The Dockerfile and deploy/kubernetes.yaml, linted for what ops people rely on: a pinned base
image, dependencies at the exact versions the tests run with, a numeric non-root user, the health
probe on the listen setting, a seccomp profile, no service-account token, a Service, and a
PodMonitor to uncomment.

No Docker engine or cluster is available here, so both files are read as data: the Dockerfile's
instructions are parsed (and the files it copies are copied into a temporary directory where
setuptools must find exactly the packages it finds in the repository), the manifest is loaded
with a YAML parser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from setuptools import find_packages

from connector.cli import build_parser
from connector.service.health import HealthServer
from connector.service.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DEPLOYMENT_DOC = ROOT / "README.md"
CONSTRAINTS = ROOT / "constraints.txt"
KUBERNETES = ROOT / "deploy" / "kubernetes.yaml"
UID = "10001"


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


def test_base_image_is_pinned_to_the_python_the_tests_run_on() -> None:
    """FROM names an exact Python release (or a digest) of the minor version the tests run on,
    which pyproject.toml accepts."""
    image = only("FROM")
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image)
    assert match, f"{image} is not pinned to an exact version"
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]
    assert pyproject()["project"]["requires-python"] == ">=3.11"


def pinned() -> dict[str, str]:
    """constraints.txt: canonical name -> exact version."""
    pins: dict[str, str] = {}
    for raw in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt line {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def test_dependencies_install_from_the_constraints_the_tests_use() -> None:
    """The image installs with constraints.txt, `make` installs the test environment with the
    same file, and this test environment has exactly those versions of every pinned package
    that pyproject.toml asks for."""
    steps = instructions()
    assert ("RUN", "pip install --constraint constraints.txt .") in steps
    assert "constraints.txt" in copied_sources()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --constraint $(CONSTRAINTS) -e '.[test]'" in makefile
    assert "CONSTRAINTS := constraints.txt" in makefile
    pins = pinned()
    project = pyproject()["project"]
    wanted = [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), requirement
        assert metadata.version(name) == pins[name], f"{name}: tests run another version"
    for extra in ("binary",):  # psycopg[binary]
        assert canonicalize_name(f"psycopg-{extra}") in pins


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
    """The install step is `pip install --constraint constraints.txt .` after the source is
    copied (README quotes it)."""
    steps = instructions()
    runs = [
        i
        for i, (kw, args) in enumerate(steps)
        if kw == "RUN" and args == "pip install --constraint constraints.txt ."
    ]
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


def test_runs_as_the_numeric_unprivileged_user_it_creates() -> None:
    """USER is the numeric uid:gid 10001 (verifiable by runAsNonRoot), the uid the image creates
    and that owns /data."""
    assert only("USER") == f"{UID}:{UID}"
    creating = [args for kw, args in instructions() if kw == "RUN" and "useradd" in args]
    assert creating
    assert f"--uid {UID}" in creating[0]
    assert f"chown {UID}:{UID} /data" in creating[0]


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


def healthcheck_command() -> list[str]:
    check = only("HEALTHCHECK")
    assert "CMD" in check
    command: list[str] = json.loads(check.split("CMD", 1)[1])
    return command


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer("127.0.0.1", 0, metrics=ServiceMetrics(), readiness=lambda: None)
    server.start()
    yield server
    server.stop()


def test_healthcheck_probes_healthz_on_the_port_the_listen_setting_names(
    health_server: HealthServer,
) -> None:
    """HEALTHCHECK runs python against /healthz on the port of CONNECTOR_SERVICE_LISTEN: it
    passes against a live server there and fails where nothing listens."""
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    run = [sys.executable, "-c", command[2]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["CONNECTOR_SERVICE_LISTEN"] = f"0.0.0.0:{health_server.port}"
    assert subprocess.run(run, env=env, check=False, timeout=30).returncode == 0
    env["CONNECTOR_SERVICE_LISTEN"] = "0.0.0.0:9"  # discard port: nothing answers
    failed = subprocess.run(run, env=env, check=False, timeout=30, capture_output=True)
    assert failed.returncode != 0


@pytest.mark.parametrize(
    "text",
    [
        "docker build -t qualys-was-connector .",
        "pip install --constraint constraints.txt .",
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


# --- deploy/kubernetes.yaml ----------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(KUBERNETES.read_text(encoding="utf-8")) if d]
    by_kind = {d["kind"]: d for d in documents}
    assert len(by_kind) == len(documents), "one document per kind"
    return by_kind


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (only_container,) = pod()["containers"]
    result: dict[str, Any] = only_container
    return result


def test_kubernetes_pod_is_locked_down() -> None:
    """The pod runs with the RuntimeDefault seccomp profile, without a service-account token,
    as the image's numeric non-root user, with no privilege escalation and no capabilities."""
    spec = pod()
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert str(spec["securityContext"]["runAsUser"]) == UID
    assert str(spec["securityContext"]["runAsGroup"]) == UID
    security = container()["securityContext"]
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_kubernetes_ports_probes_and_service_agree_with_the_listen_setting() -> None:
    """The container port is the one CONNECTOR_SERVICE_LISTEN names, the probes ask /healthz and
    /readyz on it, and the Service selects the pod and targets that port by name."""
    env = {e["name"]: e.get("value") for e in container()["env"]}
    port = int(env["CONNECTOR_SERVICE_LISTEN"].rpartition(":")[2])
    (http,) = container()["ports"]
    assert (http["name"], http["containerPort"]) == ("http", port)
    assert container()["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = manifests()["Service"]
    labels = manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "http"
    assert service_port["port"] == port


def test_kubernetes_example_has_a_podmonitor_to_uncomment() -> None:
    """Uncommenting the PodMonitor block gives a Prometheus Operator PodMonitor that scrapes
    /metrics on the pod's http port."""
    lines = KUBERNETES.read_text(encoding="utf-8").splitlines()
    start = lines.index("# apiVersion: monitoring.coreos.com/v1")
    block = [line[2:] for line in lines[start:] if line.startswith("# ")]
    monitor = yaml.safe_load("\n".join(block))
    assert monitor["kind"] == "PodMonitor"
    labels = manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "60s"}
    ]


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
