"""Numbers sent as strings where SDKs do it, over HTTP: an epoch-millisecond occurred-at whose schema
also allows its text (`"1733461200000"`, with a pattern of digits) is read as the number."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from generated_server.sendrealm.storage import open_storage
from generated_server.sendrealm.timestamps import number_of
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op, x_ingest


def epoch_text(document: dict[str, Any]) -> None:
    request = document["components"]["schemas"]["IngestEventRequest"]["properties"]
    request["occurred_at"] = {"type": ["integer", "string"], "pattern": "^[0-9]{1,15}$"}
    for media in op(document)["requestBody"]["content"].values():
        media.pop("examples", None)
    block = op(document)["x-ingest"] = upgrade(x_ingest(document))
    block["occurred_at_unit"] = "milliseconds"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tmp = tmp_path_factory.mktemp("epoch_text")
    spec = edited(tmp, "sendrealm", epoch_text, "epoch_text")
    assert lint(spec) == []
    generate(spec, tmp / "epoch_text_api")
    db = f"sqlite:///{tmp / 'events.db'}"
    with running_server("epoch_text_api", EXAMPLE_CONFIG, db, "", log_dir=tmp, pythonpath=tmp) as running:
        yield running, db


async def fetch(url: str, event_id: str) -> Any:
    async with open_storage(url) as storage:
        return await storage.get("acme", event_id)


def test_an_epoch_time_is_read_from_its_text(server: tuple[RunningServer, str]) -> None:
    running, db = server
    for sent, status in [
        ("1733461200000", 202),
        (1733461200000, 202),
        ("1733461200000.5", 400),
        ("17e11", 400),
    ]:
        body = {"event": "order.completed", "external_id": "c-1", "occurred_at": sent}
        answer = httpx.post(
            f"{running.base_url}/events", json=body, headers={"Authorization": f"Bearer {ACME_KEY}"}
        )
        assert answer.status_code == status, (sent, answer.text)
        if status == 202:
            stored = asyncio.run(fetch(db, answer.json()["data"]["id"]))
            assert stored.occurred_at == "2024-12-06T05:00:00.000Z"
            assert answer.json()["data"]["occurred_at"] == "2024-12-06T05:00:00.000Z"
        else:
            assert answer.json()["errors"][0]["path"] == "/occurred_at"


def test_number_of_reads_plain_decimal_text_only() -> None:
    assert number_of("1733461200000") == 1733461200000
    assert number_of("-5") == -5
    assert number_of("1.5") == 1.5
    for text in ("", "1e3", " 1", "0x10", "1_000", "١٢", "1.", "+1", "NaN"):
        assert number_of(text) is None, text
