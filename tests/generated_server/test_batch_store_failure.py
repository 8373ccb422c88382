"""A batch whose store fails for one of its items: the request is refused, so nothing is
acknowledged, and the items that were stored go to the worker at once (their lease would otherwise
keep them from every worker for a minute).

In process, through ASGI, with real SQLite and the app's own lifespan (worker included): the store's
failure for one item is the one thing put in its way.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bench.load import load_for
from tests.specs import imported

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "segment"
PACKAGE = "segment_store_failure"
KEY = "seg_web_write_key_1"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("batch_store_failure")
    with imported(CORPUS / "openapi.yaml", root, PACKAGE):
        yield root / PACKAGE


async def post(app: Any, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def statuses(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT idempotency_key, status FROM events").fetchall())


def test_the_stored_items_are_processed_at_once_and_nothing_is_acknowledged(
    package: Path, tmp_path: Path
) -> None:
    modules: dict[str, ModuleType] = {
        name: importlib.import_module(f"{PACKAGE}.{name}") for name in ("app", "storage")
    }
    load = load_for("segment", package, KEY, "batch")
    path, headers, text = load.sample("sf")
    items = json.loads(text)["batch"]
    failing = items[1]["messageId"]
    db = tmp_path / "events.db"
    app = modules["app"].create_app(str(CORPUS / "config.yaml"), f"sqlite:///{db}", access_log=False)

    async def scenario() -> tuple[int, bytes, dict[str, str], float]:
        async with app.router.lifespan_context(app):
            storage = app.state.storage
            original = storage.submit

            def submit(new: Any, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
                if new.idempotency_key != failing:
                    return original(new, *args, **kwargs)
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                future.set_exception(modules["storage"].StorageError("the disk is full"))
                return future

            storage.submit = submit
            started = time.monotonic()
            status, answer = await post(app, path, headers, text.encode())
            while time.monotonic() - started < 10:
                found = statuses(db)
                if len(found) == len(items) - 1 and set(found.values()) == {"processed"}:
                    break
                await asyncio.sleep(0.05)
            return status, answer, statuses(db), time.monotonic() - started

    status, answer, found, waited = asyncio.run(scenario())
    assert status >= 500, answer  # refused: not one item is acknowledged
    assert failing not in found
    assert found == {item["messageId"]: "processed" for item in items if item["messageId"] != failing}
    # Well inside the lease (60 s) the stored items carry: the worker had them in memory.
    assert waited < 10
