"""A generated package as a team deploys it: generated outside the checkout, installed ALONE from its
own pyproject.toml into a fresh venv, served by uvicorn's command line with two worker processes.

The Deploy page (`docs/deploy.md`) gives this sequence on the starter spec; this test runs it on
Arsel: every line of the log is JSON (uvicorn's included), an access line has its fields and the
client's request id, and /metrics counts the events both workers accepted.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
import venv
from pathlib import Path

import httpx
import pytest

from ingestspec.generator.spec.loader import load_spec
from tests.conftest import SPECS, fresh_postgres_url
from tests.servers import REPO, serving

# Slow (a fresh venv): `make test` runs it; `-m "not install"` skips it.
pytestmark = pytest.mark.install

KEY = "be_acme_test_key"
SEND = load_spec(SPECS["arsel"]).base_path + "/events/send"
EVENT = {"event": "order.completed", "email": "john.doe@example.com", "data": {"order_id": "A-1", "total": 1}}


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: nothing pointing back at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


def run(*command: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=user_env(**env), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def json_lines(log: Path) -> list[dict[str, object]]:
    """The complete lines of a log still being written (a line being written is left for later)."""
    text = log.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


def metric(text: str, name: str) -> float:
    [value] = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(value)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` folder of a fresh venv outside the checkout, holding the generated arsel package
    installed alone from its own pyproject.toml (no extra)."""
    tmp_path = tmp_path_factory.mktemp("deploy")
    # 1. Generate the package outside the checkout (the tool's own venv).
    tool = Path(sys.executable).parent / "ingestspec"
    run(tool, "generate", SPECS["arsel"], "--out", tmp_path / "arsel", cwd=tmp_path)
    # 2. Install it alone, from its own pyproject.toml, into a fresh venv.
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    # No bytecode compiled at install: the server compiles what it imports, a fraction of it.
    run(bin_dir / "pip", "install", "--quiet", "--no-compile", tmp_path / "arsel", cwd=tmp_path)
    return bin_dir


def test_a_generated_package_installs_alone_and_serves_under_uvicorn_workers(
    installed: Path, tmp_path: Path
) -> None:
    bin_dir = installed
    # 3. Serve it from another folder (the installed package, not the generated folder).
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.yaml").write_text((REPO / "examples" / "config.yaml").read_text())
    log_config = run(bin_dir / "python", "-m", "arsel", "log-config", cwd=site).stdout
    (site / "log.json").write_text(log_config)
    env = {
        "INGESTSPEC_CONFIG": "config.yaml",
        "INGESTSPEC_DB": f"sqlite:///{site / 'events.db'}",
        "INGESTSPEC_METRICS_DIR": str(site / "metrics"),
    }
    command = [
        str(bin_dir / "uvicorn"), "arsel.asgi:app", "--workers", "2", "--loop", "uvloop",
        "--http", "arsel.protocol:BoundedHttpToolsProtocol", "--timeout-graceful-shutdown", "10",
        "--no-access-log", "--log-config", "log.json",
    ]  # fmt: skip
    with serving(command, site, "uvicorn-workers", env=user_env(**env), cwd=site, timeout=60) as server:
        url, log = server.root, server.log
        request_id = f"deploy-{uuid.uuid4().hex[:8]}"
        accepted, ids = 0, list[str]()
        # A new connection per request, until both workers have accepted events.
        for attempt in range(200):
            headers = {"Authorization": f"Bearer {KEY}", "X-Request-Id": f"{request_id}-{attempt}"}
            response = httpx.post(url + SEND, json=EVENT, headers=headers, timeout=10)
            assert response.status_code == 202, response.text
            assert response.headers["x-request-id"] == f"{request_id}-{attempt}"
            ids = ids or [response.json()["id"]]
            accepted += 1
            lines = json_lines(log)
            if attempt >= 20 and len({ln["pid"] for ln in lines if ln.get("path") == SEND}) == 2:
                break
        # 4. /metrics, answered by either worker, counts what both accepted (within the flush delay).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = httpx.get(url + "/metrics", timeout=5).text
            if metric(text, "ingest_events_accepted_total") == accepted:
                break
            time.sleep(0.3)
        assert metric(text, "ingest_events_accepted_total") == accepted
        assert metric(text, "ingest_request_duration_seconds_count") >= accepted
        assert metric(text, "ingest_dead_letters") == 0
        with sqlite3.connect(site / "events.db") as db:
            assert db.execute("SELECT count(*) FROM events").fetchone()[0] == accepted
    assert server.process.returncode == 0, log.read_text()
    # 5. Every line is JSON, uvicorn's supervisor and workers included; an access line has its fields.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert {"uvicorn.error", "arsel.access"} <= {line["logger"] for line in lines}
    assert all({"time", "level", "logger", "pid", "message"} <= line.keys() for line in lines)
    [access] = [line for line in lines if line.get("request_id") == f"{request_id}-0"]
    assert access["logger"] == "arsel.access" and access["level"] == "info"
    assert (access["method"], access["path"], access["status"]) == ("POST", SEND, 202)
    assert isinstance(access["ms"], float) and access["client"] == "127.0.0.1"
    assert access["event_id"] == ids[0]
    assert len({line["pid"] for line in lines if line.get("path") == SEND}) == 2
    assert "john.doe@example.com" not in log.read_text()


def test_postgresql_takes_the_postgres_extra_then_serves_under_uvicorn_workers(
    installed: Path, tmp_path: Path
) -> None:
    url = fresh_postgres_url()
    config = REPO / "examples" / "config.yaml"
    # Without the extra: one line saying what to install, before any worker starts.
    refused = subprocess.run(
        [installed / "python", "-m", "arsel", "--config", config, "--db", url, "--workers", "2"],
        cwd=tmp_path, env=user_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "arsel: a PostgreSQL URL needs psycopg (No module named 'psycopg'): pip install 'arsel[postgres]'"
    ]
    arsel = installed.parent.parent / "arsel"
    run(installed / "pip", "install", "--quiet", f"{arsel}[postgres]", cwd=tmp_path)
    env = {
        "INGESTSPEC_CONFIG": str(config),
        "INGESTSPEC_DB": url,
        "INGESTSPEC_METRICS_DIR": str(tmp_path / "m"),
    }
    command = [
        str(installed / "uvicorn"), "arsel.asgi:app", "--workers", "2",
        "--loop", "uvloop", "--http", "arsel.protocol:BoundedHttpToolsProtocol", "--no-access-log",
    ]  # fmt: skip
    with serving(
        command, tmp_path, "uvicorn-postgres", env=user_env(**env), cwd=tmp_path, timeout=60
    ) as running:
        server = running.root
        for _ in range(10):
            answer = httpx.post(
                server + SEND, json=EVENT, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
            )
            assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 10
        while metric(httpx.get(server + "/metrics").text, "ingest_events_accepted_total") != 10:
            assert time.monotonic() < deadline, httpx.get(server + "/metrics").text
            time.sleep(0.3)
    assert running.process.returncode == 0, running.log.read_text()


# The distribution that installs each top-level module a generated package may import.
DISTRIBUTIONS = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "orjson": "orjson",
    "jsonschema_rs": "jsonschema-rs",
    "yaml": "pyyaml",
    "pydantic": "pydantic",
    "swagger_ui_bundle": "swagger-ui-bundle-v2",
    "httptools": "httptools",
    "psycopg": "psycopg",
}
# Standard library modules of another Python version than this one (config.py imports CPython's own
# SHA-256 by the name each version gives it).
OTHER_STDLIB = frozenset({"_sha2", "_sha256"})


def imported_distributions(package: Path) -> set[str]:
    """The distributions the package's modules import (standard library and its own modules aside)."""
    found = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names | OTHER_STDLIB and top != "__future__":
                    found.add(DISTRIBUTIONS[top])  # a KeyError names a module this table lacks
    return found


@pytest.mark.parametrize("api", sorted(SPECS))
def test_the_package_declares_what_it_imports(api: str) -> None:
    package = REPO / "generated_server" / api
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=; ]", d)[0].lower() for d in project["dependencies"]}
    extras = {re.split(r"[\[<>=; ]", d)[0].lower() for d in project["optional-dependencies"]["postgres"]}
    imported = imported_distributions(package)
    # psycopg is the postgres extra: storage_postgres.py is imported only for a PostgreSQL URL.
    assert imported - {"psycopg"} <= declared and extras == {"psycopg"}
    # What no module imports by name but the server needs: uvicorn's loop and protocol, and
    # pydantic's EmailStr validator exactly when models.py uses it.
    runtime = {"uvloop", "httptools"} | (
        {"email-validator"} if "EmailStr" in (package / "models.py").read_text() else set()
    )
    assert declared == (imported - {"psycopg"}) | runtime
