"""Shared helpers for the reliability tests: servers as real processes, and the store read back."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import REPO

ACME_KEY = "be_acme_test_key"
GLOBEX_KEY = "be_globex_test_key"
# module, base path, ingest path below it
SERVERS = {
    "arsel": ("generated_server.arsel", "/v1", "/events/send"),
    "sendrealm": ("generated_server.sendrealm", "", "/events"),
}
CONTACT = "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda"

T = TypeVar("T")


def require_generated(api: str) -> None:
    """Skip (rather than fail) while the generated server is not in the checkout yet."""
    if not (REPO / "generated_server" / api / "app.py").exists():
        pytest.skip(f"generated_server/{api} is not generated yet")


def sendrealm_event(idempotency_key: str, n: int = 0) -> dict[str, Any]:
    """A valid event for the acme project, new for each idempotency key."""
    return {
        "event": "order.completed",
        "contact_id": CONTACT,
        "payload": {"order_id": f"ord_{n}", "total": 4900, "currency": "EUR"},
        "occurred_at": "2026-06-08T14:15:00.000Z",
        "idempotency_key": idempotency_key,
    }


def auth(key: str = ACME_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def with_storage(api: str, db_url: str, use: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store with the generated server's own storage module, run `use(storage)`, close it."""
    module = importlib.import_module(f"generated_server.{api}.storage")

    async def run() -> T:
        storage = module.open_storage(db_url)
        await storage.start()
        try:
            return await use(storage)
        finally:
            await storage.close()

    return asyncio.run(run())


def stored_count(api: str, db_url: str, project: str = "acme") -> int:
    async def count(storage: Any) -> int:
        return int(await storage.count(project))

    return with_storage(api, db_url, count)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'events.db'}"
