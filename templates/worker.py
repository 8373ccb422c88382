"""Processing accepted events: a worker with retries and dead letters, and the retention purger.

All state lives in storage, so either can stop at any moment: an event claimed by a worker that
died is due again when its lease runs out, and a retry keeps its schedule across restarts.

An event this process accepts is not claimed from the store: it is stored already leased to this
process (`Worker.lease`) and handed to the worker in memory (`Worker.take`), which saves the claim's
write and reading the row back. Should the process die first, the lease runs out and any worker
claims the event, as it would a claimed one. Events from elsewhere (other processes, retries,
leases run out) are claimed from the store every `poll_interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .logs import identity_hash, log_fields
from .storage import Storage, StorageError, StoredEvent
from .timestamps import format_utc

__all__ = ["Handler", "HandlerLoadError", "RetentionPurger", "Worker", "load_handler", "log_handler"]

logger = logging.getLogger(__name__)

Handler = Callable[[StoredEvent], Awaitable[None]]
Clock = Callable[[], datetime]

# Long enough that a slow handler keeps its claim, short enough that a crashed worker's claims
# come back within a minute.
DEFAULT_LEASE_SECONDS = 60.0
# A lease given at insert is this much short of lease_seconds (it is made once a second), and a
# handed-over batch is given up this much earlier again; leases shorter than twice this are not
# given at insert at all (such a worker claims every event).
_LEASE_SLACK_SECONDS = 1.0
# Stored error texts are for people reading dead letters, not for full tracebacks.
_MAX_ERROR_CHARS = 2000


class Counter(Protocol):
    """What the worker needs from metrics (Metrics satisfies it)."""

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1) -> None: ...


class HandlerLoadError(ValueError):
    """A "module:attribute" handler reference does not name an importable callable."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"cannot load handler {reference!r}: {reason}")
        self.reference = reference
        self.reason = reason


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


async def log_handler(event: StoredEvent) -> None:
    """The default handler: one line per event, at debug level (`--log-level debug`).

    At info the request's access line names its events already; a second line for each event would
    double what a busy server logs, and cost about as much as the access line (make bench). The
    payload and the identity value are personal data and are left out (the payload's size is logged;
    a hash of the identity only when the server is started with --log-identities).
    """
    if not logger.isEnabledFor(logging.DEBUG):
        return
    fields = {
        "event_id": event.id,
        "project_id": event.project_id,
        "event": event.event,
        "identity_type": event.identity_type,
        **identity_hash(event.identity_value),
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "attempt": event.attempts + 1,
        "payload_bytes": len(event.payload),
    }
    log_fields(logger, logging.DEBUG, "event processed", fields)


def load_handler(reference: str | None = None) -> Handler:
    """Import a handler given as "package.module:function" (None: handlers.py's `handle`, the
    package's user code); a plain function runs in a thread."""
    reference = reference or f"{__package__}.handlers:handle"
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise HandlerLoadError(reference, 'expected "module:attribute"')
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerLoadError(reference, f"module {module_name!r} cannot be imported ({exc})") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise HandlerLoadError(reference, f"no attribute {part!r}") from exc
    if not callable(target):
        raise HandlerLoadError(reference, "it is not callable")
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(type(target).__call__):
        handler: Handler = target  # type: ignore[assignment]
        return handler
    function = target

    async def in_thread(event: StoredEvent) -> None:
        # A plain function may block (HTTP calls, files); keep it off the event loop.
        await asyncio.to_thread(function, event)

    return in_thread


class Worker:
    """Feeds due events to the handler; retries failures with exponential backoff, then dead-letters them."""

    def __init__(
        self,
        storage: Storage,
        handler: Handler = log_handler,
        *,
        max_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_multiplier: float = 2.0,
        backoff_max: float = 300.0,
        poll_interval: float = 1.0,
        gather_seconds: float = 0.05,
        metrics: Counter | None = None,
        batch_size: int = 256,
        concurrency: int = 16,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        jitter: float = 0.1,
        clock: Clock = _utc_now,
        handoff_limit: int = 4096,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.storage = storage
        self.handler = handler
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_multiplier = backoff_multiplier
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.gather_seconds = gather_seconds
        self.metrics = metrics
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.jitter = jitter
        self.clock = clock
        self.handoff_limit = handoff_limit
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        # Events handed over, with the loop time each was taken at.
        self._handed: deque[tuple[StoredEvent, float]] = deque()
        self._lease: tuple[float, str] = (0.0, "")

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after the `failed_attempts`-th failure (1 for the first), before jitter."""
        exponent = max(failed_attempts - 1, 0)
        try:
            delay = self.backoff_initial * self.backoff_multiplier**exponent
        except OverflowError:
            delay = self.backoff_max
        return float(min(delay, self.backoff_max))

    def lease(self) -> str | None:
        """The lease an event stored now is born with when this worker will take it in memory;
        None when it will not (stopped, or `handoff_limit` events already waiting): the event is
        then stored due, for whichever worker claims it first."""
        if self._task is None or self._stopping.is_set() or len(self._handed) >= self.handoff_limit:
            return None
        if self.lease_seconds <= 2 * _LEASE_SLACK_SECONDS:
            return None
        # One timestamp a second rather than one an event: a lease a second shorter changes nothing.
        made, until = self._lease
        now = time.monotonic()
        if now - made > _LEASE_SLACK_SECONDS:
            until = format_utc(self.clock() + timedelta(seconds=self.lease_seconds - _LEASE_SLACK_SECONDS))
            self._lease = now, until
        return until

    def take(self, event: StoredEvent) -> None:
        """Handle `event`, stored with `lease()`'s lease, without claiming it from the store."""
        self._handed.append((event, asyncio.get_running_loop().time()))
        self._wakeup.set()

    async def start(self) -> None:
        """Start polling in the background."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="ingestspec-worker")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the events in hand (up to `timeout` seconds), then stop.

        Events still running after the timeout are cancelled; their leases bring them back later.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wakeup.set()
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            logger.warning("worker did not finish within %.1fs; in-flight events will be retried", timeout)

    async def _run(self) -> None:
        next_claim = 0.0  # the store is asked at once, then every poll_interval
        # Stopping, the events already handed over are still handled; nothing more is claimed.
        while not self._stopping.is_set() or self._handed:
            try:
                if self._handed and (self._stopping.is_set() or time.monotonic() < next_claim):
                    handled = await self.handle_batch(*self._take_handed())
                else:
                    next_claim = time.monotonic() + self.poll_interval
                    handled = await self.run_once()
            except Exception:  # a bad batch must not end processing for good
                logger.exception("worker batch failed; retrying in %.1fs", self.poll_interval)
                handled = 0
            if handled >= self.batch_size or self._stopping.is_set():
                continue  # behind: the next batch at once
            if handled:
                # Nearly caught up (a partial batch): wait a moment, so that a steady stream is
                # handled in groups rather than a few events per commit (marking them processed
                # is a write); a stream faster than batch_size per moment fills the batches and
                # goes on without waiting. stop() wakes it at once.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), min(self.gather_seconds, self.poll_interval)
                    )
                continue
            # Caught up: wait for the next poll, or for an event handed over.
            self._wakeup.clear()
            if not self._handed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), max(next_claim - time.monotonic(), 0.0))

    def _take_handed(self) -> tuple[list[StoredEvent], float]:
        """A batch of the events handed over, and the loop time their leases end by: lease() gives
        a lease a second short and keeps it a second, so it ends at least 2 s short of
        lease_seconds after the insert, which came before the take."""
        count = min(len(self._handed), self.batch_size)
        taken = [self._handed.popleft() for _ in range(count)]
        return [event for event, _ in taken], taken[0][1] + self.lease_seconds - 2 * _LEASE_SLACK_SECONDS

    async def run_once(self) -> int:
        """Claim one batch of due events from the store (one round trip) and handle it; return how
        many were claimed."""
        events = await self.storage.claim_due(format_utc(self.clock()), self.batch_size, self.lease_seconds)
        return await self.handle_batch(events)

    async def handle_batch(self, events: list[StoredEvent], lease_end: float | None = None) -> int:
        """Handle leased `events` `concurrency` at a time, record the successes in groups (one
        round trip each) and then the failures; return how many there were.

        A handler still running when the batch's lease ends (`lease_end`, loop time; by default
        lease_seconds from now, as for a batch just claimed) could soon be running twice: it is
        given up on and counts as failed (TimeoutError), and no other event of the batch starts
        after that. One timer per consumer rather than one per event (4.5 µs each on uvloop)."""
        if not events:
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease_seconds if lease_end is None else lease_end
        marker = _Marker(self.storage, self._count)
        failed: list[tuple[StoredEvent, str]] = []
        # `concurrency` consumers share one iterator: each event is taken once, and a batch costs
        # `concurrency` tasks rather than one per event.
        due = iter(events)

        async def consume() -> None:
            current = None
            try:
                async with asyncio.timeout_at(deadline):
                    for current in due:
                        if loop.time() >= deadline:
                            # Reached when a handler turned the timeout's cancellation into
                            # another error: the lease is over all the same.
                            current = None
                            break
                        try:
                            await self.handler(current)
                        except Exception as exc:
                            failed.append((current, _error_text(exc)))
                        else:
                            marker.add(current.id)
                        current = None
            except TimeoutError:
                if current is not None:
                    failed.append((current, "TimeoutError"))

        await asyncio.gather(*(consume() for _ in range(min(self.concurrency, len(events)))))
        await marker.finish()
        for event, error in failed:
            await self._failed(event, error)
        return len(events)

    async def _failed(self, event: StoredEvent, error: str) -> None:
        failed_attempts = event.attempts + 1
        try:
            if failed_attempts >= self.max_attempts:
                await self.storage.dead_letter(event.id, error)
                logger.warning(
                    "event dead-lettered",
                    extra={"fields": {"event_id": event.id, "attempts": failed_attempts, "error": error}},
                )
                self._count("ingest_events_dead_lettered_total")
                return
            delay = self.backoff(failed_attempts)
            delay += random.uniform(0, delay * self.jitter)  # spread retries of a failed burst
            retry_at = format_utc(self.clock() + timedelta(seconds=delay))
            await self.storage.mark_retry(event.id, error, retry_at)
            logger.info(
                "event retry scheduled",
                extra={
                    "fields": {
                        "event_id": event.id,
                        "attempts": failed_attempts,
                        "retry_at": retry_at,
                        "error": error,
                    }
                },
            )
            self._count("ingest_events_retried_total")
        except StorageError:
            logger.exception("could not record the failure of event %s", event.id)

    def _count(self, name: str, value: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.inc(name, value=value)


class _Marker:
    """Records handled events as processed: one write in flight at a time, each carrying every event
    handled since the previous one (group commit), so a batch costs a few round trips, not one per
    event, and an event handled is marked soon after (a crash repeats little more than what was in
    the handler's hands)."""

    def __init__(self, storage: Storage, count: Callable[[str, int], None]) -> None:
        self._storage = storage
        self._count = count
        self._handled: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, event_id: str) -> None:
        self._handled.append(event_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write())

    async def finish(self) -> None:
        if self._task is not None:
            await self._task

    async def _write(self) -> None:
        while self._handled:
            event_ids, self._handled = self._handled, []
            try:
                await self._storage.mark_processed_many(event_ids)
            except StorageError:
                # The leases will hand these events out again: at-least-once, never lost.
                logger.exception("could not mark %d events processed", len(event_ids))
                continue
            self._count("ingest_events_processed_total", len(event_ids))


class RetentionPurger:
    """Deletes each project's events once they are older than the project's retention period."""

    def __init__(
        self,
        storage: Storage,
        retention_days: Mapping[str, int],
        *,
        interval: float = 3600.0,
        metrics: Counter | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.storage = storage
        self.retention_days = dict(retention_days)
        self.interval = interval
        self.metrics = metrics
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def purge_once(self) -> dict[str, int]:
        """Purge every project now; return how many events each lost."""
        now = self.clock()
        purged: dict[str, int] = {}
        for project_id, days in self.retention_days.items():
            before = format_utc(now - timedelta(days=days))
            purged[project_id] = count = await self.storage.purge(project_id, before)
            if count and self.metrics is not None:
                self.metrics.inc("ingest_events_purged_total", value=count)
        return purged

    async def start(self) -> None:
        """Purge now, then every `interval` seconds, in the background."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="ingestspec-retention")

    async def stop(self) -> None:
        """Stop after the purge in progress, if any."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                purged = await self.purge_once()
                if any(purged.values()):
                    logger.info("retention purge: %s", purged)
            except Exception:  # the next round may succeed; retention must not stop for good
                logger.exception("retention purge failed; trying again in %.0fs", self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
