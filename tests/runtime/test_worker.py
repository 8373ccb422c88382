"""Worker and RetentionPurger on real storage: retries with backoff, dead letters, restarts, retention."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.runtime.conftest import EventFactory, Runtime

pytestmark = pytest.mark.anyio

START = datetime(2026, 6, 8, 14, 15, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand, so backoff schedules can be checked exactly."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Flaky:
    """A handler that fails its first `failures` calls, then succeeds."""

    def __init__(self, failures: int = 10**9) -> None:
        self.failures = failures
        self.calls: list[Any] = []

    async def __call__(self, event: Any) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"boom {len(self.calls)}")


def seconds_until(rt: Runtime, clock: Clock, timestamp: str) -> float:
    return float((rt.storage.parse_timestamp(timestamp) - clock.now).total_seconds())


async def test_processes_due_events(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    metrics = rt.metrics.Metrics()
    handler = Flaky(failures=0)
    async with rt.storage.open_storage(store_url) as storage:
        events = [make_event() for _ in range(3)]
        for event in events:
            await storage.insert(event)
        worker = rt.worker.Worker(storage, handler, metrics=metrics)
        assert await worker.run_once() == 3
        assert await worker.run_once() == 0
        assert sorted(e.id for e in handler.calls) == sorted(e.id for e in events)
        assert {(await storage.get("acme", e.id)).status for e in events} == {"processed"}
        assert metrics.value("ingest_events_processed_total") == 3


async def test_retries_with_growing_delays_then_dead_letters(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    clock, metrics, handler = Clock(), rt.metrics.Metrics(), Flaky()
    async with rt.storage.open_storage(store_url) as storage:
        event = make_event()
        await storage.insert(event)
        worker = rt.worker.Worker(
            storage,
            handler,
            max_attempts=5,
            backoff_initial=1.0,
            backoff_multiplier=3.0,
            backoff_max=20.0,
            jitter=0.0,
            metrics=metrics,
            clock=clock,
        )
        delays = []
        for attempt in range(1, 5):
            assert await worker.run_once() == 1
            stored = await storage.get("acme", event.id)
            assert (stored.status, stored.attempts, stored.last_error) == (
                "pending",
                attempt,
                f"RuntimeError: boom {attempt}",
            )
            delays.append(seconds_until(rt, clock, stored.next_attempt_at))
            clock.advance(delays[-1] - 0.5)
            assert await worker.run_once() == 0  # not due yet
            clock.advance(0.5)
        assert delays == [1.0, 3.0, 9.0, 20.0]  # initial * multiplier**n, capped at backoff_max
        assert await worker.run_once() == 1
        stored = await storage.get("acme", event.id)
        assert (stored.status, stored.attempts) == ("dead", 5)
        [letter] = await storage.dead_letters("acme")
        assert (letter["event_id"], letter["attempts"], letter["last_error"]) == (
            event.id,
            5,
            "RuntimeError: boom 5",
        )
        assert letter["payload"] == event.payload
        assert len(handler.calls) == 5
        assert metrics.value("ingest_events_retried_total") == 4
        assert metrics.value("ingest_events_dead_lettered_total") == 1
        clock.advance(3600)
        assert await worker.run_once() == 0


async def test_jitter_only_lengthens_the_delay_a_little(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    clock = Clock()
    async with rt.storage.open_storage(store_url) as storage:
        events = [make_event() for _ in range(20)]
        for event in events:
            await storage.insert(event)
        worker = rt.worker.Worker(
            storage, Flaky(), backoff_initial=10.0, jitter=0.1, clock=clock, batch_size=20
        )
        await worker.run_once()
        delays = [seconds_until(rt, clock, (await storage.get("acme", e.id)).next_attempt_at) for e in events]
        assert all(10.0 <= d <= 11.0 for d in delays)
        assert len(set(delays)) > 1


async def test_restart_in_the_middle_of_retrying_loses_nothing(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    clock = Clock()
    event = make_event()
    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(event)
        worker = rt.worker.Worker(storage, Flaky(), backoff_initial=30.0, jitter=0.0, clock=clock)
        await worker.run_once()
        await worker.stop()
    # A new process: new storage instance, new worker, a handler that works now.
    handler = Flaky(failures=0)
    async with rt.storage.open_storage(store_url) as storage:
        worker = rt.worker.Worker(storage, handler, clock=clock)
        assert await worker.run_once() == 0  # the retry schedule survived the restart
        clock.advance(30)
        assert await worker.run_once() == 1
        stored = await storage.get("acme", event.id)
        assert (stored.status, stored.attempts, stored.last_error) == ("processed", 1, "RuntimeError: boom 1")
        assert [e.id for e in handler.calls] == [event.id]


async def test_a_crashed_workers_claims_come_back(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    clock = Clock()
    event = make_event()
    started = asyncio.Event()

    async def hangs(_: Any) -> None:
        started.set()
        await asyncio.sleep(3600)

    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(event)
        crashing = rt.worker.Worker(storage, hangs, lease_seconds=60, clock=clock)
        task = asyncio.create_task(crashing.run_once())
        await started.wait()
        task.cancel()  # the process dies mid-handler: nothing is recorded
        with pytest.raises(asyncio.CancelledError):
            await task
        handler = Flaky(failures=0)
        survivor = rt.worker.Worker(storage, handler, lease_seconds=60, clock=clock)
        assert await survivor.run_once() == 0  # still leased to the dead worker
        clock.advance(61)
        assert await survivor.run_once() == 1
        assert (await storage.get("acme", event.id)).status == "processed"


async def test_an_event_handed_over_is_handled_without_being_claimed(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def waits(event: Any) -> None:
        await release.wait()
        handled.append(event.id)

    async with rt.storage.open_storage(store_url) as storage:
        # No poll after the first, at start: the event can only reach the handler in memory.
        worker = rt.worker.Worker(storage, waits, poll_interval=3600)
        assert worker.lease() is None  # not started: nothing is born leased
        await worker.start()
        try:
            await asyncio.sleep(0.05)  # the first poll, of an empty store, is over
            lease = worker.lease()
            assert lease is not None
            event = make_event()
            stored, created = await storage.insert(event, leased_until=lease)
            assert created and stored.next_attempt_at == lease
            worker.take(stored)
            # Born leased: another process's worker does not claim it meanwhile.
            assert await rt.worker.Worker(storage, waits).run_once() == 0
            release.set()
            for _ in range(200):
                if (await storage.get("acme", event.id)).status == "processed":
                    break
                await asyncio.sleep(0.02)
        finally:
            await worker.stop()
        assert handled == [event.id]
        assert (await storage.get("acme", event.id)).status == "processed"


async def test_an_event_handed_over_to_a_process_that_died_comes_back(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    clock = Clock()
    async with rt.storage.open_storage(store_url) as storage:
        dying = rt.worker.Worker(storage, Flaky(failures=0), clock=clock, poll_interval=3600)
        await dying.start()
        lease = dying.lease()
        await dying.stop()
        event = make_event()
        await storage.insert(event, leased_until=lease)  # committed; the process died before take()
        handler = Flaky(failures=0)
        survivor = rt.worker.Worker(storage, handler, clock=clock)
        assert await survivor.run_once() == 0
        clock.advance(rt.worker.DEFAULT_LEASE_SECONDS)
        assert await survivor.run_once() == 1
        assert [e.id for e in handler.calls] == [event.id]


async def test_stopping_handles_what_was_handed_over_and_then_takes_no_more(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    handler = Flaky(failures=0)
    async with rt.storage.open_storage(store_url) as storage:
        worker = rt.worker.Worker(storage, handler, poll_interval=3600, handoff_limit=3)
        await worker.start()
        events = []
        for _ in range(3):
            lease = worker.lease()
            assert lease is not None
            stored, _ = await storage.insert(make_event(), leased_until=lease)
            worker.take(stored)
            events.append(stored)
        await worker.stop()
        assert sorted(e.id for e in handler.calls) == sorted(e.id for e in events)
        assert {(await storage.get("acme", e.id)).status for e in events} == {"processed"}
        assert worker.lease() is None  # stopped: new events are stored due, for any worker


async def test_no_lease_is_given_at_insert_when_leases_are_short(rt: Runtime, store_url: str) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        worker = rt.worker.Worker(storage, Flaky(failures=0), lease_seconds=2.0, poll_interval=3600)
        await worker.start()
        try:
            assert worker.lease() is None  # it would end before the batch could be handled
        finally:
            await worker.stop()


async def test_no_lease_once_handoff_limit_events_wait(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    release = asyncio.Event()

    async def waits(_: Any) -> None:
        await release.wait()

    async with rt.storage.open_storage(store_url) as storage:
        worker = rt.worker.Worker(
            storage, waits, poll_interval=3600, handoff_limit=2, concurrency=1, batch_size=1
        )
        await worker.start()
        try:
            await asyncio.sleep(0.05)
            for _ in range(3):  # one in the handler, two waiting
                lease = worker.lease()
                assert lease is not None
                worker.take((await storage.insert(make_event(), leased_until=lease))[0])
                await asyncio.sleep(0.02)
            assert worker.lease() is None
            release.set()
        finally:
            await worker.stop()
        assert await storage.backlog() == (0, 0)


async def test_handler_outliving_its_lease_counts_as_a_failure(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async def slow(_: Any) -> None:
        await asyncio.sleep(5)

    async with rt.storage.open_storage(store_url) as storage:
        event = make_event()
        await storage.insert(event)
        await rt.worker.Worker(storage, slow, lease_seconds=0.1).run_once()
        stored = await storage.get("acme", event.id)
        assert (stored.status, stored.attempts, stored.last_error) == ("pending", 1, "TimeoutError")


async def test_no_event_of_a_batch_starts_after_its_lease_ends(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    started: list[str] = []

    async def slow(event: Any) -> None:
        started.append(event.id)
        await asyncio.sleep(5)

    async with rt.storage.open_storage(store_url) as storage:
        first, second = make_event(), make_event()
        await storage.insert(first)
        await storage.insert(second)
        await rt.worker.Worker(storage, slow, lease_seconds=0.1, concurrency=1).run_once()
        assert started == [first.id]  # the second would have run past the lease
        stored = await storage.get("acme", first.id)
        assert (stored.status, stored.attempts, stored.last_error) == ("pending", 1, "TimeoutError")
        untouched = await storage.get("acme", second.id)
        assert (untouched.status, untouched.attempts) == ("pending", 0)


async def test_background_loop_processes_and_stops(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    handler = Flaky(failures=0)
    async with rt.storage.open_storage(store_url) as storage:
        worker = rt.worker.Worker(storage, handler, poll_interval=0.02)
        await worker.start()
        try:
            for _ in range(5):
                await storage.insert(make_event())
            for _ in range(200):
                if len(handler.calls) == 5:
                    break
                await asyncio.sleep(0.02)
        finally:
            await worker.stop()
        assert len(handler.calls) == 5
        await storage.insert(make_event())
        await asyncio.sleep(0.1)
        assert len(handler.calls) == 5  # stopped for good


async def test_retention_purger(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    clock = Clock(datetime(2026, 6, 30, tzinfo=UTC))
    metrics = rt.metrics.Metrics()
    async with rt.storage.open_storage(store_url) as storage:
        for project, received in [
            ("acme", "2026-05-01T00:00:00.000Z"),
            ("acme", "2026-06-29T00:00:00.000Z"),
            ("globex", "2026-05-01T00:00:00.000Z"),
            ("initech", "2026-05-01T00:00:00.000Z"),  # no retention configured: kept
        ]:
            await storage.insert(make_event(project, received_at=received))
        purger = rt.worker.RetentionPurger(storage, {"acme": 30, "globex": 90}, metrics=metrics, clock=clock)
        assert await purger.purge_once() == {"acme": 1, "globex": 0}
        assert [await storage.count(p) for p in ("acme", "globex", "initech")] == [1, 1, 1]
        assert metrics.value("ingest_events_purged_total") == 1
        await purger.start()  # purges at once in the background, then sleeps until stop()
        await purger.stop()


def test_load_handler(rt: Runtime) -> None:
    assert rt.worker.load_handler(f"{rt.package}.worker:log_handler") is rt.worker.log_handler
    assert rt.worker.load_handler(f"{rt.package}.worker:Worker.run_once") is rt.worker.Worker.run_once
    for reference in (
        "no_colon",
        f"{rt.package}.worker:missing",
        "no.such.module:x",
        f"{rt.package}.worker:DEFAULT_LEASE_SECONDS",
    ):
        with pytest.raises(rt.worker.HandlerLoadError, match="cannot load handler"):
            rt.worker.load_handler(reference)


async def test_loaded_plain_functions_run_in_a_thread(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    module = f"handlers_{uuid.uuid4().hex[:8]}"
    (rt.directory / f"{module}.py").write_text(
        "import threading\nseen = []\n\n"
        "def record(event):\n    seen.append((event.id, threading.current_thread().name))\n\n"
        "def fail(event):\n    raise ValueError('sync failure')\n"
    )
    record = rt.worker.load_handler(f"{rt.package}.{module}:record")
    fail = rt.worker.load_handler(f"{rt.package}.{module}:fail")
    seen = importlib.import_module(f"{rt.package}.{module}").seen
    async with rt.storage.open_storage(store_url) as storage:
        ok, bad = make_event(), make_event()
        await storage.insert(ok)
        await rt.worker.Worker(storage, record).run_once()
        assert seen == [(ok.id, seen[0][1])]
        assert seen[0][1] != threading.current_thread().name
        await storage.insert(bad)
        await rt.worker.Worker(storage, fail).run_once()
        assert (await storage.get("acme", bad.id)).last_error == "ValueError: sync failure"


async def test_log_handler_writes_one_json_line_without_personal_data(
    rt: Runtime, make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    event = rt.storage.StoredEvent.pending(
        make_event(
            payload=b'{"email":"a@example.com"}', identity_type="email", identity_value="b@example.com"
        )
    )
    formatter = rt.logs.JsonFormatter()
    with caplog.at_level(logging.DEBUG, logger=rt.worker.logger.name):
        await rt.worker.log_handler(event)
    [record] = caplog.records
    text = formatter.format(record)
    line = json.loads(text)
    assert (line["message"], line["level"], line["event_id"], line["project_id"], line["payload_bytes"]) == (
        "event processed", "debug", event.id, "acme", len(event.payload)
    )  # fmt: skip
    assert "example.com" not in text and "b@ex.com" not in text
    assert "identity_hash" not in line


async def test_log_handler_writes_nothing_at_the_default_level(
    rt: Runtime, make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # The access line names each stored event already: a second line per event only at debug.
    with caplog.at_level(logging.INFO, logger=rt.worker.logger.name):
        await rt.worker.log_handler(rt.storage.StoredEvent.pending(make_event()))
    assert caplog.records == []


async def test_log_handler_hashes_the_identity_when_asked(
    rt: Runtime, make_event: EventFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = rt.storage.StoredEvent.pending(make_event(identity_type="email", identity_value="b@example.com"))
    # What logs.configure(hash_identities=True) sets; configure itself would replace caplog's handler.
    monkeypatch.setattr(rt.logs, "_hash_identities", True)
    with caplog.at_level(logging.DEBUG, logger=rt.worker.logger.name):
        await rt.worker.log_handler(event)
    text = rt.logs.JsonFormatter().format(caplog.records[-1])
    assert json.loads(text)["identity_hash"] == hashlib.sha256(b"b@example.com").hexdigest()[:16]
    assert "example.com" not in text


async def test_retries_and_dead_letters_are_logged_and_a_redriven_event_is_processed(
    rt: Runtime, store_url: str, make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock, metrics, handler = Clock(), rt.metrics.Metrics(), Flaky(failures=2)
    async with rt.storage.open_storage(store_url) as storage:
        event = make_event(identity_value="c-secret")
        await storage.insert(event)
        worker = rt.worker.Worker(
            storage, handler, max_attempts=2, backoff_initial=1.0, jitter=0.0, metrics=metrics, clock=clock
        )
        with caplog.at_level(logging.INFO, logger=rt.worker.logger.name):
            assert await worker.run_once() == 1
            clock.advance(1.0)
            assert await worker.run_once() == 1
        lines = [json.loads(rt.logs.JsonFormatter().format(r)) for r in caplog.records]
        assert [(x["message"], x["event_id"], x["attempts"]) for x in lines] == [
            ("event retry scheduled", event.id, 1),
            ("event dead-lettered", event.id, 2),
        ]
        assert lines[0]["error"] == "RuntimeError: boom 1" and "retry_at" in lines[0]
        assert "c-secret" not in caplog.text
        assert await storage.backlog() == (0, 1)
        # Re-driven: a fresh round of attempts, due at once; the handler now succeeds.
        assert await storage.redrive(event.id) is True
        assert await storage.redrive(event.id) is False  # not dead any more
        assert await storage.backlog() == (1, 0)
        assert await worker.run_once() == 1
        stored = await storage.get("acme", event.id)
        assert (stored.status, stored.attempts) == ("processed", 0)
        assert await storage.dead_letters() == []
        [history] = await storage.dead_letters(redriven=True)
        assert history["event_id"] == event.id and history["redriven_at"] is not None
