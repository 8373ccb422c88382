"""The worker keeps up: a batch is claimed in one round trip and marked processed in a few, not per event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.runtime.conftest import EventFactory, Runtime

pytestmark = pytest.mark.anyio


class Counting:
    """Counts the store calls the worker makes, passing each through to the real store."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.claims = 0
        self.marks: list[int] = []  # events per mark_processed_many call

    async def claim_due(self, now: str, limit: int, lease_seconds: float) -> list[Any]:
        self.claims += 1
        events: list[Any] = await self.storage.claim_due(now, limit, lease_seconds)
        return events

    async def mark_processed_many(self, event_ids: Sequence[str]) -> None:
        self.marks.append(len(event_ids))
        await self.storage.mark_processed_many(event_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


async def instant(event: Any) -> None:
    return None


async def test_a_batch_costs_one_claim_and_a_few_marks(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    metrics = rt.metrics.Metrics()
    async with rt.storage.open_storage(store_url) as storage:
        events = [make_event() for _ in range(200)]
        for event in events:
            await storage.insert(event)
        counting = Counting(storage)
        worker = rt.worker.Worker(counting, instant, metrics=metrics)  # type: ignore[arg-type]
        assert await worker.run_once() == 200
        assert counting.claims == 1
        assert sum(counting.marks) == 200
        # One write in flight at a time, each carrying what was handled meanwhile: with an instant
        # handler and 16 in flight, far fewer writes than events.
        assert len(counting.marks) <= 200 // 16 + 1, counting.marks
        assert {(await storage.get("acme", e.id)).status for e in events} == {"processed"}
        assert metrics.value("ingest_events_processed_total") == 200
        assert await worker.run_once() == 0


async def test_marking_many_marks_exactly_those(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        events = [make_event() for _ in range(5)]
        for event in events:
            await storage.insert(event)
        await storage.mark_processed_many([events[0].id, events[3].id])
        statuses = [(await storage.get("acme", e.id)).status for e in events]
        assert statuses == ["processed", "pending", "pending", "processed", "pending"]
        await storage.mark_processed_many([])  # nothing handled: a no-op, not an error
