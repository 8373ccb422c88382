"""A vendor's OpenAPI 3.0 file is served as its 3.0 schemas say: `nullable`, boolean
`exclusiveMinimum` and a user required in every `anyOf` branch (tests/generator/vendor30/)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestspec.generator.generate.build import generate
from tests.servers import REPO, RunningServer, running_server

VENDOR30 = Path(__file__).parent.parent / "generator" / "vendor30"


@pytest.fixture(scope="module")
def trackly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("trackly")
    generate(VENDOR30 / "track.yaml", tmp / "trackly")
    db = f"sqlite:///{tmp / 'events.db'}"
    with running_server("trackly", VENDOR30 / "config.yaml", db, log_dir=tmp, pythonpath=tmp) as server:
        yield server


def track(server: RunningServer, **fields: Any) -> httpx.Response:
    body = {"app_id": "1174902153", "event": "Signed Up", "user_id": "alice", **fields}
    return httpx.post(f"{server.base_url}/v2/track", json=body, timeout=10)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"event": "Page Viewed", "channel": None, "properties": None}, 200),  # nullable: true
        ({"channel": "web", "value": 0.5}, 200),
        ({"value": 0}, 400),  # minimum: 0 with exclusiveMinimum: true
        ({"channel": "app"}, 400),  # the enum, null aside
        ({"user_id": None}, 400),  # not nullable
    ],
)
def test_the_30_schema_is_served_as_declared(
    trackly: RunningServer, fields: dict[str, Any], status: int
) -> None:
    reply = track(trackly, **fields)
    assert reply.status_code == status, reply.text


def test_the_user_required_in_every_anyof_branch_is_required(trackly: RunningServer) -> None:
    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{trackly.base_url}/v2/track", json=body, timeout=10)

    assert post({"app_id": "1174902153", "event": "Signed Up"}).status_code == 400
    assert post({"app_id": "1174902153", "event": "Signed Up", "anonymous_id": "a-1"}).status_code == 200


def test_the_contract_suite_passes_on_the_30_file(trackly: RunningServer) -> None:
    """The whole loop on a file as a vendor publishes it: lint, generate, serve (above), contract."""
    result = subprocess.run(
        [
            *(Path(sys.executable).parent / "ingestspec", "contract", VENDOR30 / "track.yaml"),
            *("--base-url", trackly.base_url, "--config", str(VENDOR30 / "config.yaml")),
            *("--api-key", "1174902153", "--api-key", "2209318846", "--max-examples", "15", "--seed", "1"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
