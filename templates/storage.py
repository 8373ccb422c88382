"""Durable event storage: the records, the interface both stores implement, and open_storage().

The stores live in storage_sqlite.py and storage_postgres.py (one module each, as httpx keeps
its transports); open_storage() imports only the one a URL names, so a SQLite deployment does
not need the PostgreSQL driver.

`insert()` returns only after the row is committed. Concurrent inserts are not committed one by
one: a single writer drains every insert waiting at that moment and commits them in one
transaction, so many requests share one fsync. Deduplication relies on the UNIQUE
(project_id, idempotency_key) constraint and `INSERT ... ON CONFLICT DO NOTHING`, never on
check-then-insert, so it holds across batches, connections and processes. A key remembered for a
window only (`remembered_since`) is renewed in the same transaction as the new row's insert: the
old row gives its key up (`UPDATE ... WHERE idempotency_key = key`, which only one writer can win)
and the new row takes it, so a key past its window makes exactly one new event.

Timestamps are stored as text in one fixed format (`timestamps.format_utc`), which makes text
order chronological order on both backends.

Errors (driver exceptions never leave this module):

    StorageError              the database refused or failed an operation
    ├── StorageClosed         used before start() or after close()
    └── StorageConfigError    the storage URL cannot be understood
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from .timestamps import format_utc as format_timestamp
from .timestamps import now as utc_now

__all__ = [
    "NewEvent",
    "Storage",
    "StorageClosed",
    "StorageConfigError",
    "StorageError",
    "StoredEvent",
    "format_timestamp",
    "open_storage",
    "parse_timestamp",
    "utc_now",
]

# --- data -------------------------------------------------------------------------------------


# Records are NamedTuples: immutable like frozen dataclasses, and built in C, which matters twice
# per request (a frozen dataclass of these sizes took 1.2 and 1.6 µs to build, a NamedTuple 0.2).


class NewEvent(NamedTuple):
    """An accepted event, as the request handler hands it to storage."""

    id: str
    project_id: str
    event: str
    identity_type: str | None
    identity_value: str | None
    payload: bytes
    occurred_at: str
    received_at: str
    idempotency_key: str | None
    body_hash: str | None
    # The whole accepted item as JSON bytes, every field as received (None: a caller without one).
    item: bytes | None = None


class StoredEvent(NamedTuple):
    """A stored event with its processing state."""

    id: str
    project_id: str
    event: str
    identity_type: str | None
    identity_value: str | None
    payload: bytes
    occurred_at: str
    received_at: str
    idempotency_key: str | None
    body_hash: str | None
    status: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    item: bytes | None = None  # the whole accepted item (None: stored before items were kept)

    @classmethod
    def pending(cls, event: NewEvent, leased_until: str | None = None) -> StoredEvent:
        """The row `insert()` creates for `event`."""
        return cls(
            event.id, event.project_id, event.event, event.identity_type, event.identity_value,
            event.payload, event.occurred_at, event.received_at, event.idempotency_key,
            event.body_hash, "pending", 0, leased_until, None, event.item,
        )  # fmt: skip


class StorageError(Exception):
    """The database refused or failed an operation."""


class StorageClosed(StorageError):
    """The storage was used before start() or after close()."""


class StorageConfigError(StorageError, ValueError):
    """The storage URL cannot be understood."""


# --- timestamps -------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """Parse a stored timestamp back into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _later(timestamp: str, seconds: float) -> str:
    return format_timestamp(parse_timestamp(timestamp) + timedelta(seconds=seconds))


# --- interface --------------------------------------------------------------------------------


class Storage(ABC):
    """Where accepted events live until they are processed, dead-lettered or purged."""

    #: Write transactions committed so far; with group commit this grows slower than inserts.
    batches: int = 0
    #: purge() deletes at most this many events per transaction.
    purge_chunk: int = 5000

    @abstractmethod
    async def start(self) -> None:
        """Create the schema if missing and start the writer. Safe to run from several processes."""

    @abstractmethod
    async def close(self) -> None:
        """Commit what is queued, stop the writer and close connections."""

    async def insert(
        self, event: NewEvent, remembered_since: str | None = None, *, leased_until: str | None = None
    ) -> tuple[StoredEvent, bool]:
        """Store `event` durably; return (row, created).

        created is False when (project_id, idempotency_key) already exists, and the row is then
        the earlier event, not `event`. Events without an idempotency key are never merged.
        With `remembered_since`, an earlier event received before it no longer holds the key:
        `event` is stored as new and takes the key over. With `leased_until`, a new row is born
        claimed until then, as claim_due() would leave it: the inserting process hands the event
        to its own worker in memory, and no other worker takes it before the lease runs out.
        """
        return await self.submit(event, remembered_since, leased_until=leased_until)

    @abstractmethod
    def submit(
        self, event: NewEvent, remembered_since: str | None = None, *, leased_until: str | None = None
    ) -> asyncio.Future[tuple[StoredEvent, bool]]:
        """`insert()`, queued for the writer at once: the future of its (row, created). Events
        submitted together (a batch's items) are committed in one group without a task each, and
        a request awaits the future itself rather than a coroutine around it."""

    @abstractmethod
    async def get(self, project_id: str, event_id: str) -> StoredEvent | None:
        """One event of a project, or None."""

    @abstractmethod
    async def count(self, project_id: str | None = None) -> int:
        """How many events are stored, for one project or all."""

    @abstractmethod
    async def claim_due(self, now: str, limit: int, lease_seconds: float) -> list[StoredEvent]:
        """Lease up to `limit` pending events due at `now`, oldest first.

        Claiming moves next_attempt_at `lease_seconds` ahead, so the claims of a worker that dies
        come back by themselves.
        """

    async def mark_processed(self, event_id: str) -> None:
        """Record that the handler succeeded."""
        await self.mark_processed_many((event_id,))

    @abstractmethod
    async def mark_processed_many(self, event_ids: Sequence[str]) -> None:
        """Record that the handler succeeded for each of `event_ids`, in one round trip."""

    @abstractmethod
    async def mark_retry(self, event_id: str, error: str, next_attempt_at: str) -> None:
        """Record a failed attempt and when to try again."""

    @abstractmethod
    async def dead_letter(self, event_id: str, error: str) -> None:
        """Record the last failed attempt, mark the event dead and copy it, whole item included, into
        dead_letters."""

    @abstractmethod
    async def dead_letters(
        self, project_id: str | None = None, *, redriven: bool = False
    ) -> list[dict[str, object]]:
        """Dead-lettered events, oldest first; payload and the whole item (None: stored before
        items were kept) are JSON text as bytes. With `redriven`, also those re-driven since (their
        `redriven_at` set), kept as history."""

    @abstractmethod
    async def redrive(self, event_id: str) -> bool:
        """Give a dead event another round of attempts: pending again, attempts from 0, due now;
        its dead letter is kept with `redriven_at`. False when the event is not dead."""

    @abstractmethod
    async def backlog(self) -> tuple[int, int]:
        """(events waiting to be processed, dead letters not re-driven), for the gauges."""

    @abstractmethod
    async def ready(self) -> str | None:
        """None when the store answers and has every migration of this server; else why not."""

    @abstractmethod
    async def purge(self, project_id: str, before: str) -> int:
        """Delete a project's events (and their dead letters) received before `before`."""

    async def __aenter__(self) -> Storage:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


# Which schema versions a store has; each backend's MIGRATIONS bring it to the newest.
SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
)

M = TypeVar("M")


def due_migrations(current: int, migrations: Sequence[tuple[int, M]]) -> list[tuple[int, M]]:
    """The migrations a store at version `current` still needs, in order; a store newer than
    this server is refused rather than written with an older schema's assumptions."""
    latest = migrations[-1][0]
    if current > latest:
        raise StorageError(f"the database schema is version {current}, newer than this server's {latest}")
    return [(version, step) for version, step in migrations if version > current]


def open_storage(url: str) -> Storage:
    """Storage for `url`: sqlite:///relative.db, sqlite:////absolute.db, a bare path, or postgresql://..."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from .storage_postgres import PostgresStorage
        except ImportError as exc:  # psycopg is the package's `postgres` extra
            extra = f"{__package__.rsplit('.', 1)[-1]}[postgres]"
            raise StorageConfigError(
                f"a PostgreSQL URL needs psycopg ({exc}): pip install '{extra}'"
            ) from exc
        return PostgresStorage(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif "://" in url:
        raise StorageConfigError(f"unsupported storage URL {url!r}; use sqlite:///path.db or postgresql://")
    else:
        path = url
    if not path or path == ":memory:":
        # The writer thread and the readers each need a connection to the same database.
        raise StorageConfigError(f"storage URL {url!r} must name a database file")
    from .storage_sqlite import SQLiteStorage

    return SQLiteStorage(path)


# --- SQL shared by both backends --------------------------------------------------------------

_COLUMNS = (
    "id, project_id, event, identity_type, identity_value, payload, occurred_at, received_at, "
    "idempotency_key, body_hash, status, attempts, next_attempt_at, last_error, item"
)
# The columns insert() fills; the rest start at their defaults.
# What insert() writes: the event, the lease it may be born with, and the item as received.
_INSERT_COLUMNS = _COLUMNS.split(", status", 1)[0] + ", next_attempt_at, item"
# A dead letter keeps the whole item too (`item`, NULL for events stored before items were kept).
_DEAD_LETTER_COLUMNS = "event_id, project_id, event, payload, attempts, last_error, dead_at, item"
_DEAD_LETTER_SELECT = f"SELECT {_DEAD_LETTER_COLUMNS}, redriven_at FROM dead_letters"


def _row_to_event(row: Sequence[Any]) -> StoredEvent:
    payload, item = row[5], row[14]
    return StoredEvent(
        row[0], row[1], row[2], row[3], row[4],
        payload.encode() if isinstance(payload, str) else bytes(payload),
        row[6], row[7], row[8], row[9], row[10], row[11], row[12], row[13],
        None if item is None else item.encode() if isinstance(item, str) else bytes(item),
    )  # fmt: skip


def _row_to_dead_letter(row: Sequence[Any]) -> dict[str, object]:
    payload, item = row[3], row[7]
    return {
        "event_id": row[0],
        "project_id": row[1],
        "event": row[2],
        "payload": payload.encode() if isinstance(payload, str) else bytes(payload),
        "attempts": row[4],
        "last_error": row[5],
        "dead_at": row[6],
        "item": None if item is None else item.encode() if isinstance(item, str) else bytes(item),
        "redriven_at": row[8],
    }


def _insert_params(event: NewEvent, leased_until: str | None = None) -> tuple[object, ...]:
    # Called by insert() itself, before queueing: a malformed event fails its own caller here
    # instead of failing inside the writer, next to other callers' events.
    try:
        payload = event.payload.decode()
        item = None if event.item is None else event.item.decode()
    except UnicodeDecodeError as exc:
        raise StorageError(f"event {event.id}: payload or item is not UTF-8 JSON text") from exc
    return (
        event.id, event.project_id, event.event, event.identity_type, event.identity_value,
        payload, event.occurred_at, event.received_at, event.idempotency_key, event.body_hash,
        leased_until, item,
    )  # fmt: skip


# A caller's future, with the value or the error to resolve it with.
_Outcome = tuple[asyncio.Future[Any], object, BaseException | None]


def _expired(found: StoredEvent, remembered_since: str | None) -> bool:
    """Whether an earlier event's key is past its window (text order is time order)."""
    return remembered_since is not None and found.received_at < remembered_since


# The earlier event gives its key up; the condition on the key lets only one writer do it.
_RELEASE_KEY = "UPDATE events SET idempotency_key = NULL WHERE id = ? AND idempotency_key = ?"


def _gone() -> StorageError:
    # ON CONFLICT saw a row that a concurrent purge then deleted before we could read it.
    return StorageError("insert conflicted but the existing event is gone")


def _batch_error(context: str, cause: BaseException) -> StorageError:
    # A fresh exception for each waiter: one instance raised in many tasks would have its
    # traceback rewritten by each of them.
    error = StorageError(f"{context}: {cause}")
    error.__cause__ = cause
    return error


def _settle(outcomes: Sequence[_Outcome]) -> None:
    for future, value, error in outcomes:
        if future.done():  # the caller gave up (cancelled); the outcome stands regardless
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
