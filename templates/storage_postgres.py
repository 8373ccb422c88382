"""The PostgreSQL store: one writer task group-commits inserts, a small pool serves reads and the worker.

Its schema is versioned: MIGRATIONS are applied in order on start under an advisory lock, so
processes starting together apply each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Buffer, Loader

from .storage import (
    _COLUMNS,
    _DEAD_LETTER_COLUMNS,
    _DEAD_LETTER_SELECT,
    _INSERT_COLUMNS,
    _RELEASE_KEY,
    SCHEMA_VERSION_TABLE,
    NewEvent,
    Storage,
    StorageClosed,
    StorageError,
    StoredEvent,
    _batch_error,
    _expired,
    _gone,
    _insert_params,
    _later,
    _Outcome,
    _row_to_dead_letter,
    _row_to_event,
    _settle,
    due_migrations,
)
from .timestamps import now as utc_now

__all__ = ["PostgresStorage"]

logger = logging.getLogger(__name__)


# Timestamps and ids are compared as text; COLLATE "C" makes that byte order whatever the
# database's default collation is.
# The schema, one version after another: (version, SQL). Version 1 is the schema of the releases
# before versioning (IF NOT EXISTS: such a store already has it); append, never edit.
_PG_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS events (
    id text COLLATE "C" PRIMARY KEY,
    project_id text NOT NULL,
    event text NOT NULL,
    identity_type text,
    identity_value text,
    payload json NOT NULL,
    occurred_at text COLLATE "C" NOT NULL,
    received_at text COLLATE "C" NOT NULL,
    idempotency_key text,
    body_hash text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at text COLLATE "C",
    last_error text,
    CONSTRAINT events_idempotency UNIQUE (project_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS events_pending ON events (received_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS events_received ON events (project_id, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id text PRIMARY KEY,
    project_id text NOT NULL,
    event text NOT NULL,
    payload json NOT NULL,
    attempts integer NOT NULL,
    last_error text,
    dead_at text COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_project ON dead_letters (project_id, dead_at);
"""
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, _PG_SCHEMA_V1),
    # A re-driven dead letter stays listed as history: when, and it leaves the dead-letter count.
    (2, 'ALTER TABLE dead_letters ADD COLUMN redriven_at text COLLATE "C"'),
    # The whole accepted item, every field as received (NULL for events stored before).
    (3, "ALTER TABLE events ADD COLUMN item json"),
    # A dead letter keeps the whole item as well; those written before get their event's.
    (
        4,
        "ALTER TABLE dead_letters ADD COLUMN item json;"
        " UPDATE dead_letters SET item = events.item FROM events WHERE events.id = dead_letters.event_id",
    ),
)

READY_TIMEOUT_SECONDS = 2.0

# Any constant shared by all processes; it serialises migrations among them.
_PG_SCHEMA_LOCK = 0x696E67657374

_PG_INSERT = (
    f"INSERT INTO events ({_INSERT_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s::json, %s, %s, %s, %s, %s, %s::json) "
    "ON CONFLICT (project_id, idempotency_key) DO NOTHING RETURNING id"
)
# A batch's rows travel as one JSON text, an array of rows (orjson writes it in C), and the server
# takes it apart: psycopg's array dumpers walk every value in Python, 8–10 µs of an event's CPU.
# As jsonb the text is parsed once and each `->>` indexes the row; as json every `->>` parsed the
# row's text again (the database's CPU per row: 47–69 µs as json, 27–32 as jsonb). Every value is
# a JSON string or null, so `->>` gives back exactly the text that was sent.
_PG_INSERT_MANY = (
    f"INSERT INTO events ({_INSERT_COLUMNS}) SELECT "
    + ", ".join(
        f"(item->>{i})::json" if column in ("payload", "item") else f"item->>{i}"
        for i, column in enumerate(_INSERT_COLUMNS.split(", "))
    )
    + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS batch(item, n) ORDER BY n "
    "ON CONFLICT (project_id, idempotency_key) DO NOTHING RETURNING id"
)
# jsonb holds at most 256 MB, and escaping can make a text up to six times longer: a batch of
# large events is split into statements of at most this much payload and item text.
_PG_BATCH_BYTES = 32 * 1024 * 1024
_PG_RELEASE_KEY = _RELEASE_KEY.replace("?", "%s")
_PG_SELECT_KEYS = (
    f"SELECT {_COLUMNS} FROM events WHERE (project_id, idempotency_key) IN "
    "(SELECT * FROM unnest(%b::text[], %b::text[]))"
)

# A row that cannot be stored; other errors (lost connection, deadlock) concern the whole batch.
_PG_ROW_ERRORS = (pg_errors.IntegrityError, pg_errors.DataError, pg_errors.ProgrammingError)
_PG_RETRY_ERRORS = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
_PG_BATCH_ATTEMPTS = 3


class _JsonBytes(Loader):
    # Hand payloads back as the exact JSON text that was stored, without parsing it.
    def load(self, data: Buffer) -> bytes:
        return bytes(data)


@contextlib.contextmanager
def _pg_errors(action: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(f"postgresql {action}: {exc}") from exc


async def _pg_connect(url: str) -> psycopg.AsyncConnection[Any]:
    # Autocommit, so that every transaction is an explicit `conn.transaction()` block.
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    conn.adapters.register_loader("json", _JsonBytes)
    return conn


class _PgPool:
    """A few autocommit connections for reads and worker updates, opened on demand."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def connection(self) -> Any:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await _pg_connect(self._url)
            try:
                yield conn
            finally:
                # A connection that broke, or was left mid-query by a cancelled caller, is dropped;
                # the next user opens a fresh one.
                if not conn.broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    self._idle.append(conn)
                else:
                    with contextlib.suppress(psycopg.Error):
                        await conn.close()

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()


@dataclass(slots=True)
class _Insert:
    event: NewEvent
    params: tuple[object, ...]
    future: asyncio.Future[tuple[StoredEvent, bool]]
    remembered_since: str | None = None
    leased_until: str | None = None

    @property
    def size(self) -> int:
        """The bytes of JSON text this insert adds to its batch's statement, besides its fields."""
        return len(self.event.payload) + len(self.event.item or b"")

    @property
    def key(self) -> tuple[str, str]:
        """(project, idempotency key) as the unique index and `_existing` see them."""
        return self.event.project_id, self.event.idempotency_key or ""

    def created(self) -> _Outcome:
        """This insert's outcome when its row went in."""
        return self.future, (StoredEvent.pending(self.event, self.leased_until), True), None

    def failed(self, cause: BaseException) -> _Outcome:
        return self.future, None, _batch_error("postgresql insert", cause)


def _lock_order(job: _Insert) -> tuple[str, str]:
    # Two processes' batches take unique-index locks in the same order, so they cannot deadlock.
    return job.key


def _by_size(jobs: list[_Insert], limit: int) -> Iterator[list[_Insert]]:
    """`jobs` in order, in groups of at most `limit` bytes (an insert larger than that alone)."""
    group: list[_Insert] = []
    size = 0
    for job in jobs:
        job_size = job.size
        if group and size + job_size > limit:
            yield group
            group, size = [], 0
        group.append(job)
        size += job_size
    if group:
        yield group


class PostgresStorage(Storage):
    """PostgreSQL; one writer task group-commits inserts, a small pool serves reads and the worker.

    Several processes may share one database: deduplication is the unique constraint, and
    workers claim with FOR UPDATE SKIP LOCKED.
    """

    #: The writer's statements carry at most this many bytes of payload and item text.
    batch_bytes: int = _PG_BATCH_BYTES

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self.batches = 0
        self._pool = _PgPool(url, pool_size)
        self._queue: asyncio.Queue[_Insert | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._wconn: psycopg.AsyncConnection[Any] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._writer is not None:
            return
        if self._closed:
            raise StorageClosed("storage was closed")
        with _pg_errors("schema"):
            async with self._pool.connection() as conn, conn.transaction():
                # CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin.
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                await conn.execute(SCHEMA_VERSION_TABLE)
                cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
                row = await cursor.fetchone()
                for version, sql in due_migrations(int(row[0]) if row else 0, MIGRATIONS):
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                        (version, utc_now()),
                    )
                    logger.info("postgresql schema migrated to version %d", version)
            self._wconn = await _pg_connect(self.url)
        self._writer = asyncio.create_task(self._write_loop(), name="ingestspec-pg-writer")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put_nowait(None)
            await self._writer
        if self._wconn is not None:
            await self._wconn.close()
        await self._pool.close()

    # inserts go through the writer task ----------------------------------------------------

    def submit(
        self, event: NewEvent, remembered_since: str | None = None, *, leased_until: str | None = None
    ) -> asyncio.Future[tuple[StoredEvent, bool]]:
        if self._closed or self._writer is None or self._writer.done():
            raise StorageClosed("storage is not running")
        future: asyncio.Future[tuple[StoredEvent, bool]] = asyncio.get_running_loop().create_future()
        params = _insert_params(event, leased_until)
        self._queue.put_nowait(_Insert(event, params, future, remembered_since, leased_until))
        return future

    async def _write_loop(self) -> None:
        running = True
        while running:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            jobs = [item for item in items if item is not None]
            running = len(jobs) == len(items)
            for group in _by_size(jobs, self.batch_bytes):
                try:
                    outcomes = await self._commit(sorted(group, key=_lock_order))
                except Exception as exc:  # keep the task alive; every waiter must hear back
                    if not isinstance(exc, StorageError | psycopg.Error):
                        logger.exception("postgresql writer failed a batch")
                    outcomes = [job.failed(exc) for job in group]
                _settle(outcomes)

    async def _writer_connection(self) -> psycopg.AsyncConnection[Any]:
        if self._wconn is None or self._wconn.closed or self._wconn.broken:
            # The server restarted or the network dropped: the batch in flight failed (it cannot
            # be replayed safely, its COMMIT may have landed), and the next batch reconnects.
            if self._wconn is not None:
                await self._wconn.close()
            self._wconn = await _pg_connect(self.url)
        return self._wconn

    async def _commit(self, jobs: list[_Insert]) -> list[_Outcome]:
        conn = await self._writer_connection()
        for attempt in range(1, _PG_BATCH_ATTEMPTS + 1):
            try:
                outcomes = await self._insert_batch(conn, jobs)
            except _PG_RETRY_ERRORS:
                if attempt == _PG_BATCH_ATTEMPTS:
                    raise
                continue
            except _PG_ROW_ERRORS:
                # Some row is bad and took the transaction with it: redo the batch row by row.
                outcomes = await self._insert_one_by_one(conn, jobs)
            self.batches += 1
            return outcomes
        raise AssertionError("unreachable")

    async def _insert_batch(self, conn: psycopg.AsyncConnection[Any], jobs: list[_Insert]) -> list[_Outcome]:
        # The fast path: one multi-row INSERT for the whole batch, committed on its own (the writer's
        # connection is in autocommit: one round trip, where BEGIN, INSERT, COMMIT took three and
        # cost a fifth of the rate), then the rows that hit an existing key (including a key
        # repeated inside this batch: DO NOTHING skips the later rows, and WITH ORDINALITY keeps
        # batch order, so the first one wins).
        rows = orjson.dumps([job.params for job in jobs]).decode()
        cursor = await conn.execute(_PG_INSERT_MANY, (rows,))
        created = {row[0] for row in await cursor.fetchall()}
        outcomes = [job.created() for job in jobs if job.event.id in created]
        duplicates = [job for job in jobs if job.event.id not in created]
        if duplicates:
            outcomes += await self._resolve(conn, duplicates)
        return outcomes

    async def _resolve(self, conn: psycopg.AsyncConnection[Any], jobs: list[_Insert]) -> list[_Outcome]:
        """The outcomes of inserts that met an existing key, in a transaction of their own. The
        batch's new rows are committed by now: whatever happens here fails these jobs only."""
        for attempt in range(1, _PG_BATCH_ATTEMPTS + 1):
            try:
                async with conn.transaction():
                    existing = await self._existing(conn, [job.event for job in jobs])
                    return [await self._duplicate(conn, job, existing.get(job.key)) for job in jobs]
            except _PG_RETRY_ERRORS as exc:
                if attempt < _PG_BATCH_ATTEMPTS:
                    continue
                cause: BaseException = exc
            except (psycopg.Error, StorageError) as exc:
                cause = exc
            return [job.failed(cause) for job in jobs]
        raise AssertionError("unreachable")

    async def _insert_one_by_one(
        self, conn: psycopg.AsyncConnection[Any], jobs: list[_Insert]
    ) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        async with conn.transaction():
            for job in jobs:
                try:
                    async with conn.transaction():  # a savepoint: a bad row is undone alone
                        cursor = await conn.execute(_PG_INSERT, job.params)
                        if await cursor.fetchone() is not None:
                            outcomes.append(job.created())
                            continue
                        found = (await self._existing(conn, [job.event])).get(job.key)
                        outcomes.append(await self._duplicate(conn, job, found))
                except _PG_ROW_ERRORS as exc:
                    error = StorageError(f"postgresql insert: {exc}")
                    error.__cause__ = exc
                    outcomes.append((job.future, None, error))
        return outcomes

    async def _duplicate(
        self, conn: psycopg.AsyncConnection[Any], job: _Insert, found: StoredEvent | None
    ) -> _Outcome:
        """The outcome of an insert that met an existing key: a replay, or a renewal past the window."""
        if found is None:
            return job.future, None, _gone()
        if not _expired(found, job.remembered_since):
            return job.future, (found, False), None
        # Inside a transaction (_resolve's or _insert_one_by_one's). Of two writers renewing the same
        # key, the second one's UPDATE waits for the first to commit, then matches nothing, and its
        # INSERT meets the new row.
        await conn.execute(_PG_RELEASE_KEY, (found.id, job.event.idempotency_key))
        cursor = await conn.execute(_PG_INSERT, job.params)
        if await cursor.fetchone() is not None:
            return job.created()
        renewed = (await self._existing(conn, [job.event])).get(job.key)
        return (job.future, None, _gone()) if renewed is None else (job.future, (renewed, False), None)

    @staticmethod
    async def _existing(
        conn: psycopg.AsyncConnection[Any], events: list[NewEvent]
    ) -> dict[tuple[str, str], StoredEvent]:
        cursor = await conn.execute(
            _PG_SELECT_KEYS, ([e.project_id for e in events], [e.idempotency_key for e in events])
        )
        return {(row[1], row[8]): _row_to_event(row) for row in await cursor.fetchall()}

    # everything else uses the pool -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed or self._writer is None:
            raise StorageClosed("storage is not running")

    async def _fetch(self, action: str, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        self._check_open()
        with _pg_errors(action):
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description is not None else []

    async def get(self, project_id: str, event_id: str) -> StoredEvent | None:
        rows = await self._fetch(
            "get", f"SELECT {_COLUMNS} FROM events WHERE id = %s AND project_id = %s", (event_id, project_id)
        )
        return _row_to_event(rows[0]) if rows else None

    async def count(self, project_id: str | None = None) -> int:
        if project_id is None:
            rows = await self._fetch("count", "SELECT count(*) FROM events", ())
        else:
            rows = await self._fetch(
                "count", "SELECT count(*) FROM events WHERE project_id = %s", (project_id,)
            )
        return int(rows[0][0])

    async def claim_due(self, now: str, limit: int, lease_seconds: float) -> list[StoredEvent]:
        # SKIP LOCKED: concurrent workers in other processes take different events instead of
        # queueing behind each other's row locks.
        rows = await self._fetch(
            "claim_due",
            "WITH due AS ("
            "  SELECT id FROM events WHERE status = 'pending'"
            "  AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
            "  ORDER BY received_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" UPDATE events SET next_attempt_at = %s FROM due WHERE events.id = due.id"
            f" RETURNING {', '.join('events.' + c for c in _COLUMNS.split(', '))}",
            (now, limit, _later(now, lease_seconds)),
        )
        return sorted((_row_to_event(row) for row in rows), key=lambda e: (e.received_at, e.id))

    async def mark_processed_many(self, event_ids: Sequence[str]) -> None:
        await self._fetch(
            "mark_processed",
            "UPDATE events SET status = 'processed', next_attempt_at = NULL WHERE id = ANY(%s)",
            (list(event_ids),),
        )

    async def mark_retry(self, event_id: str, error: str, next_attempt_at: str) -> None:
        await self._fetch(
            "mark_retry",
            "UPDATE events SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s "
            "WHERE id = %s AND status = 'pending'",
            (error, next_attempt_at, event_id),
        )

    async def dead_letter(self, event_id: str, error: str) -> None:
        await self._fetch(
            "dead_letter",
            "WITH dead AS ("
            "  UPDATE events SET status = 'dead', attempts = attempts + 1, last_error = %s,"
            "  next_attempt_at = NULL WHERE id = %s"
            "  RETURNING id, project_id, event, payload, attempts, last_error, item)"
            f" INSERT INTO dead_letters ({_DEAD_LETTER_COLUMNS})"
            " SELECT id, project_id, event, payload, attempts, last_error, %s, item FROM dead"
            " ON CONFLICT (event_id) DO UPDATE SET attempts = excluded.attempts,"
            " last_error = excluded.last_error, dead_at = excluded.dead_at, item = excluded.item,"
            " redriven_at = NULL",
            (error, event_id, utc_now()),
        )

    async def dead_letters(
        self, project_id: str | None = None, *, redriven: bool = False
    ) -> list[dict[str, object]]:
        where = [] if redriven else ["redriven_at IS NULL"]
        params: tuple[str, ...] = ()
        if project_id is not None:
            where.append("project_id = %s")
            params = (project_id,)
        sql = _DEAD_LETTER_SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = await self._fetch("dead_letters", sql + " ORDER BY dead_at, event_id", params)
        return [_row_to_dead_letter(row) for row in rows]

    async def redrive(self, event_id: str) -> bool:
        rows = await self._fetch(
            "redrive",
            "WITH back AS ("
            "  UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = NULL"
            "  WHERE id = %s AND status = 'dead' RETURNING id),"
            " noted AS (UPDATE dead_letters SET redriven_at = %s WHERE event_id IN (SELECT id FROM back))"
            " SELECT count(*) FROM back",
            (event_id, utc_now()),
        )
        return int(rows[0][0]) > 0

    async def backlog(self) -> tuple[int, int]:
        rows = await self._fetch(
            "backlog",
            "SELECT (SELECT count(*) FROM events WHERE status = 'pending'),"
            " (SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL)",
            (),
        )
        return int(rows[0][0]), int(rows[0][1])

    async def ready(self) -> str | None:
        try:
            # An unreachable server must not hold the probe for a TCP timeout.
            rows = await asyncio.wait_for(
                self._fetch("ready", "SELECT coalesce(max(version), 0) FROM schema_version", ()),
                READY_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            return f"postgresql: no answer within {READY_TIMEOUT_SECONDS} s"
        except StorageError as exc:
            return str(exc)
        version, latest = int(rows[0][0]), MIGRATIONS[-1][0]
        return (
            None if version == latest else f"postgresql: schema version {version}, this server needs {latest}"
        )

    async def purge(self, project_id: str, before: str) -> int:
        # In chunks, each its own transaction, so that no single one grows huge.
        total = 0
        while True:
            rows = await self._fetch(
                "purge",
                "WITH gone AS ("
                "  DELETE FROM events WHERE id IN (SELECT id FROM events"
                "  WHERE project_id = %s AND received_at < %s LIMIT %s) RETURNING id),"
                " letters AS (DELETE FROM dead_letters WHERE event_id IN (SELECT id FROM gone))"
                " SELECT count(*) FROM gone",
                (project_id, before, self.purge_chunk),
            )
            deleted = int(rows[0][0])
            total += deleted
            if deleted < self.purge_chunk:
                return total
