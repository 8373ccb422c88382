"""Run each generated server once per module and storage backend, on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, fresh_postgres_url
from tests.servers import RunningServer, running_server

ACME_KEY = "be_acme_test_key"
GLOBEX_KEY = "be_globex_test_key"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    return fresh_postgres_url()


def serve(api: str, base_path: str, store_url: str, tmp: Path) -> Iterator[RunningServer]:
    with running_server(
        f"generated_server.{api}", EXAMPLE_CONFIG, store_url, base_path, log_dir=tmp
    ) as server:
        yield server


@pytest.fixture(scope="module")
def arsel(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve("arsel", "/v1", store_url, tmp_path_factory.mktemp("log"))


@pytest.fixture(scope="module")
def sendrealm(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve("sendrealm", "", store_url, tmp_path_factory.mktemp("log"))


def client(key: str | None = ACME_KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(headers=headers, timeout=10)
