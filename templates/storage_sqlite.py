"""The SQLite store: WAL mode, one writer thread group-commits every write, reads use their own connection.

Its schema is versioned: MIGRATIONS are applied in order on start, in one transaction that holds
the database's write lock, so processes starting together apply each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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

__all__ = ["SQLiteStorage"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


# The schema, one version after another: (version, statements). Version 1 is the schema of the
# releases before versioning (IF NOT EXISTS: such a store already has it); append, never edit.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """
            CREATE TABLE IF NOT EXISTS events (
                id TEXT PRIMARY KEY,
                project_id TEXT NOT NULL,
                event TEXT NOT NULL,
                identity_type TEXT,
                identity_value TEXT,
                payload TEXT NOT NULL,
                occurred_at TEXT NOT NULL,
                received_at TEXT NOT NULL,
                idempotency_key TEXT,
                body_hash TEXT,
                status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT,
                last_error TEXT,
                UNIQUE (project_id, idempotency_key)
            )
            """,
            "CREATE INDEX IF NOT EXISTS events_pending ON events (received_at, id) WHERE status = 'pending'",
            "CREATE INDEX IF NOT EXISTS events_received ON events (project_id, received_at)",
            """
            CREATE TABLE IF NOT EXISTS dead_letters (
                event_id TEXT PRIMARY KEY,
                project_id TEXT NOT NULL,
                event TEXT NOT NULL,
                payload TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                last_error TEXT,
                dead_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS dead_letters_project ON dead_letters (project_id, dead_at)",
        ),
    ),
    # A re-driven dead letter stays listed as history: when, and it leaves the dead-letter count.
    (2, ("ALTER TABLE dead_letters ADD COLUMN redriven_at TEXT",)),
    # The whole accepted item, every field as received (NULL for events stored before).
    (3, ("ALTER TABLE events ADD COLUMN item TEXT",)),
    # A dead letter keeps the whole item as well; those written before get their event's.
    (
        4,
        (
            "ALTER TABLE dead_letters ADD COLUMN item TEXT",
            "UPDATE dead_letters SET item = "
            "(SELECT item FROM events WHERE events.id = dead_letters.event_id)",
        ),
    ),
)


def _migrate(conn: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock first: a second process starting at the same time
    # waits (busy_timeout), then finds the versions applied. SQLite's DDL is transactional.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(SCHEMA_VERSION_TABLE)
        current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        for version, statements in due_migrations(int(current), MIGRATIONS):
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, utc_now())
            )
            logger.info("sqlite schema migrated to version %d", version)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _marks(count: int) -> str:
    """`count` parameter placeholders: "?, ?, ..."."""
    return ", ".join("?" * count)


# One row's placeholders: "(?, ?, ...)", one per inserted column.
_ROW_MARKS = f"({_marks(len(_INSERT_COLUMNS.split(', ')))})"
_SQLITE_INSERT = (
    f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES {_ROW_MARKS} "
    "ON CONFLICT (project_id, idempotency_key) DO NOTHING"
)
# At most this many rows per multi-row statement: 11 parameters each, well under SQLite's 32,766.
_ROWS_PER_STATEMENT = 500


def _insert_many_sql(rows: int) -> str:
    values = ", ".join([_ROW_MARKS] * rows)
    return (
        f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES {values} "
        "ON CONFLICT (project_id, idempotency_key) DO NOTHING"
    )


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> set[object]:
    """Insert `rows` with a few statements rather than one each (the writer thread takes the GIL
    back after every statement, behind the event loop); the ids of the rows that went in. A row
    that met an existing key, its batch's first row of that key included, is left to its job."""
    inserted: set[object] = set()
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        try:
            cursor = conn.execute(_insert_many_sql(len(chunk)), [value for row in chunk for value in row])
        except sqlite3.Error:
            if not conn.in_transaction:
                raise
            # SQLite undid the statement alone (a bad row): each job now inserts its own row.
            continue
        if cursor.rowcount == len(chunk):
            inserted.update(row[0] for row in chunk)
        else:
            # Some rows met an existing key (retries): those of this chunk that went in, by id. Not
            # RETURNING on every statement: each row it returns is a step that lets go of the GIL,
            # and the writer waits behind the event loop to take it back.
            ids = [row[0] for row in chunk]
            found = conn.execute(f"SELECT id FROM events WHERE id IN ({_marks(len(ids))})", ids)
            inserted.update(row[0] for row in found)
    return inserted


@dataclass(slots=True)
class _Job:
    op: Callable[[sqlite3.Connection], object]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    # Only jobs that write with more than one statement need a savepoint to fail alone: SQLite
    # undoes a failed statement by itself and keeps the transaction going.
    savepoint: bool
    # An insert's row and its outcome when the row goes in: the writer inserts the rows of a
    # whole batch in one statement, and runs `op` only for a row that met an existing key.
    row: tuple[object, ...] | None = None
    created: object = None


_STOP = object()


# A commit of at least this many jobs means the event loop is busy with many requests at once.
_BUSY_COMMIT = 16


def _wait_for_turn(busy: bool) -> None:
    """While commits are large (`busy`), let the calling thread (the writer) wait for its turn
    when woken (SCHED_BATCH) rather than preempt the event loop on its CPU; otherwise schedule it
    as any thread. Preempting a busy loop took the CPU mid-iteration, then the writer waited for
    the GIL the loop held: over HTTP on one CPU, SCHED_BATCH doubled the events per commit (29 to
    59) and took the writer from about 40 to 31 µs a request. But a lone request's commit then
    waited for a time slice whenever another process held the CPU: 100 sequential requests took
    over a second on a busy machine. A policy refused leaves the thread as it was."""
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH if busy else os.SCHED_OTHER, os.sched_param(0))


def _may_choose_policy() -> bool:
    """Whether the writer may change its scheduling policy: Linux, and the thread started under the
    default one (not one its user chose for the server, such as `chrt --idle`)."""
    try:
        return os.sched_getscheduler(0) == os.SCHED_OTHER
    except (AttributeError, OSError):
        return False


def _sqlite_error(exc: sqlite3.Error) -> StorageError:
    return StorageError(f"sqlite: {exc}")


class SQLiteStorage(Storage):
    """SQLite in WAL mode; one writer thread group-commits every write, reads use their own connection."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.batches = 0
        self._busy_timeout_ms = busy_timeout_ms
        self._queue: queue.SimpleQueue[list[_Job] | object] = queue.SimpleQueue()
        # Jobs queued during an event loop's current iteration, handed to the writer together at
        # its end (_hand_over): one wake-up of the writer thread per iteration, not per job. Per
        # loop, so that each list is only touched by its loop's thread.
        self._held: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._writer: threading.Thread | None = None
        self._writing = False
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        self._closed = False
        self._inode = 0

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, and readers must not sit in an
        # open transaction that pins an old WAL snapshot.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        self._enable_wal(conn)
        # FULL fsyncs the WAL on every commit: a committed insert survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new database to WAL needs a moment of exclusive access, and SQLite does not
        # wait for it through busy_timeout: retry while another process is opening it too.
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            # Without WAL, readers would block the writer; refuse rather than run slow and fragile.
            raise StorageError(f"sqlite: {self.path} cannot use WAL journaling (got {mode!r})")

    async def start(self) -> None:
        if self._writer is not None:
            return
        if self._closed:
            raise StorageClosed("storage was closed")
        directory = os.path.dirname(os.path.abspath(self.path))

        def open_db() -> tuple[sqlite3.Connection, sqlite3.Connection]:
            os.makedirs(directory, exist_ok=True)
            writer = self._connect()
            try:
                _migrate(writer)
                # From now on the writer waits for the file's write lock itself (_begin).
                writer.execute("PRAGMA busy_timeout = 0")
                self._inode = os.stat(self.path).st_ino
                return writer, self._connect()
            except BaseException:
                writer.close()
                raise

        try:
            self._wconn, self._rconn = await asyncio.to_thread(open_db)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc
        self._writer = threading.Thread(target=self._write_loop, name="ingestspec-sqlite-writer", daemon=True)
        self._writing = True  # until close(), or until the thread ends for any reason
        self._writer.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writing = False
        writer = self._writer
        if writer is None:
            return
        # Queued jobs ahead of the sentinel are still committed and answered.
        for loop in list(self._held):
            self._hand_over(loop)
        self._queue.put(_STOP)
        await asyncio.to_thread(writer.join)
        with self._rlock:
            if self._rconn is not None:
                self._rconn.close()

    # writes go through the writer thread ------------------------------------------------------

    def _write(
        self,
        op: Callable[[sqlite3.Connection], T],
        *,
        savepoint: bool = False,
        row: tuple[object, ...] | None = None,
        created: T | None = None,
    ) -> asyncio.Future[T]:
        """What `op` returns once the writer thread committed it. A future rather than a coroutine:
        a request waits on it with one frame less to resume."""
        if not self._writing:
            raise StorageClosed("storage is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        held = self._held.get(loop)
        if held is None:
            held = self._held[loop] = []
            loop.call_soon(self._hand_over, loop)
        held.append(_Job(op, future, loop, savepoint, row, created))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._held.pop(loop, None)
        if jobs:
            self._queue.put(jobs)

    def _write_loop(self) -> None:
        try:
            self._write_batches()
        finally:
            self._writing = False

    def _write_batches(self) -> None:
        assert self._wconn is not None
        conn = self._wconn
        running = True
        busy, adapt = False, _may_choose_policy()
        while running:
            # Block for the first job, then take everything else already waiting: no lingering,
            # so a lone request is committed at once and a burst shares one commit.
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            jobs = [job for item in items if isinstance(item, list) for job in item]
            running = _STOP not in items
            if jobs:
                try:
                    outcomes = self._commit(conn, jobs)
                except Exception as exc:  # keep the thread alive; every waiter must hear back
                    logger.exception("sqlite writer failed a batch")
                    outcomes = [(job, None, _batch_error("sqlite writer", exc)) for job in jobs]
                # Before the answers, so that what they set off already meets the new policy.
                if adapt and busy != (len(jobs) >= _BUSY_COMMIT):
                    busy = not busy
                    _wait_for_turn(busy)
                self._answer(outcomes)
        conn.close()

    def _commit(
        self, conn: sqlite3.Connection, jobs: list[_Job]
    ) -> list[tuple[_Job, object, BaseException | None]]:
        outcomes: list[tuple[_Job, object, BaseException | None]] = []
        try:
            self._begin(conn)
            inserted = _insert_rows(conn, [job.row for job in jobs if job.row is not None])
            for job in jobs:
                if job.row is not None and job.row[0] in inserted:
                    outcomes.append((job, job.created, None))
                    continue
                # A failing job is undone alone and fails only its caller.
                if job.savepoint:
                    conn.execute("SAVEPOINT job")
                try:
                    value = job.op(conn)
                except Exception as exc:
                    if not conn.in_transaction:
                        # Some errors (disk full, I/O) end the whole transaction: the batch fails.
                        raise
                    if job.savepoint:
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                    error = _sqlite_error(exc) if isinstance(exc, sqlite3.Error) else exc
                    outcomes.append((job, None, error))
                else:
                    if job.savepoint:
                        conn.execute("RELEASE job")
                    outcomes.append((job, value, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            # Nothing of this batch is durable, including the jobs that had succeeded.
            return [(job, None, _batch_error("sqlite", exc)) for job in jobs]
        self.batches += 1
        return outcomes

    def _begin(self, conn: sqlite3.Connection) -> None:
        # Several processes writing one file take turns at its write lock. SQLite's own busy
        # handler sleeps 1, 2, 5 ... 100 ms between tries, so a writer that lost once could wait
        # behind many of the other's commits (p99 of hundreds of ms with two processes); trying
        # again every half millisecond, up to the same timeout, takes turns fairly.
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if conn.in_transaction or "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.0005)

    @staticmethod
    def _answer(outcomes: list[tuple[_Job, object, BaseException | None]]) -> None:
        # One wake-up per event loop rather than one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for job, value, error in outcomes:
            by_loop.setdefault(job.loop, []).append((job.future, value, error))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, items)

    # reads use the second connection --------------------------------------------------------

    async def _read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._rconn is None:
            raise StorageClosed("storage is not running")
        conn = self._rconn

        def run() -> T:
            with self._rlock:
                try:
                    return op(conn)
                except sqlite3.Error as exc:
                    raise _sqlite_error(exc) from exc

        return await asyncio.to_thread(run)

    # operations -----------------------------------------------------------------------------

    def submit(
        self, event: NewEvent, remembered_since: str | None = None, *, leased_until: str | None = None
    ) -> asyncio.Future[tuple[StoredEvent, bool]]:
        params = _insert_params(event, leased_until)
        created = StoredEvent.pending(event, leased_until), True

        def op(conn: sqlite3.Connection) -> tuple[StoredEvent, bool]:
            if conn.execute(_SQLITE_INSERT, params).rowcount == 1:
                return created
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE project_id = ? AND idempotency_key = ?",
                (event.project_id, event.idempotency_key),
            ).fetchone()
            if row is None:
                raise _gone()
            found = _row_to_event(row)
            if not _expired(found, remembered_since):
                return found, False
            # The single writer holds the write lock: release and insert cannot be interleaved.
            conn.execute(_RELEASE_KEY, (found.id, event.idempotency_key))
            conn.execute(_SQLITE_INSERT, params)
            return created

        # A renewal writes twice: its savepoint undoes both if the second statement fails.
        return self._write(op, savepoint=remembered_since is not None, row=params, created=created)

    async def get(self, project_id: str, event_id: str) -> StoredEvent | None:
        def op(conn: sqlite3.Connection) -> StoredEvent | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE id = ? AND project_id = ?", (event_id, project_id)
            ).fetchone()
            return None if row is None else _row_to_event(row)

        return await self._read(op)

    async def count(self, project_id: str | None = None) -> int:
        def op(conn: sqlite3.Connection) -> int:
            if project_id is None:
                row = conn.execute("SELECT count(*) FROM events").fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) FROM events WHERE project_id = ?", (project_id,)
                ).fetchone()
            return int(row[0])

        return await self._read(op)

    async def claim_due(self, now: str, limit: int, lease_seconds: float) -> list[StoredEvent]:
        lease_until = _later(now, lease_seconds)

        def op(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(
                f"UPDATE events SET next_attempt_at = ? WHERE id IN ("
                "  SELECT id FROM events WHERE status = 'pending'"
                "  AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                f"  ORDER BY received_at, id LIMIT ?) RETURNING {_COLUMNS}",
                (lease_until, now, limit),
            ).fetchall()
            return [_row_to_event(row) for row in rows]

        events = await self._write(op)
        # RETURNING promises no order.
        return sorted(events, key=lambda e: (e.received_at, e.id))

    async def mark_processed_many(self, event_ids: Sequence[str]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            # One statement per chunk rather than one per event: the writer thread takes the GIL
            # back after each statement, behind the event loop.
            for start in range(0, len(event_ids), _ROWS_PER_STATEMENT):
                chunk = event_ids[start : start + _ROWS_PER_STATEMENT]
                conn.execute(
                    "UPDATE events SET status = 'processed', next_attempt_at = NULL "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )

        await self._write(op)

    async def mark_retry(self, event_id: str, error: str, next_attempt_at: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (error, next_attempt_at, event_id),
            )

        await self._write(op)

    async def dead_letter(self, event_id: str, error: str) -> None:
        dead_at = utc_now()

        def op(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "UPDATE events SET status = 'dead', attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = NULL WHERE id = ? "
                "RETURNING id, project_id, event, payload, attempts, item",
                (error, event_id),
            ).fetchone()
            if row is None:
                return
            conn.execute(
                f"INSERT INTO dead_letters ({_DEAD_LETTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (event_id) DO UPDATE SET attempts = excluded.attempts, "
                "last_error = excluded.last_error, dead_at = excluded.dead_at, item = excluded.item, "
                "redriven_at = NULL",
                (*row[:5], error, dead_at, row[5]),
            )

        await self._write(op, savepoint=True)

    async def dead_letters(
        self, project_id: str | None = None, *, redriven: bool = False
    ) -> list[dict[str, object]]:
        where = [] if redriven else ["redriven_at IS NULL"]
        params: tuple[str, ...] = ()
        if project_id is not None:
            where.append("project_id = ?")
            params = (project_id,)
        sql = _DEAD_LETTER_SELECT + (f" WHERE {' AND '.join(where)}" if where else "")

        def op(conn: sqlite3.Connection) -> list[dict[str, object]]:
            rows = conn.execute(sql + " ORDER BY dead_at, event_id", params).fetchall()
            return [_row_to_dead_letter(row) for row in rows]

        return await self._read(op)

    async def redrive(self, event_id: str) -> bool:
        now = utc_now()

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = NULL "
                "WHERE id = ? AND status = 'dead' RETURNING id",
                (event_id,),
            ).fetchone()
            if row is not None:
                conn.execute("UPDATE dead_letters SET redriven_at = ? WHERE event_id = ?", (now, event_id))
            return row is not None

        return await self._write(op, savepoint=True)

    async def backlog(self) -> tuple[int, int]:
        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            pending = conn.execute("SELECT count(*) FROM events WHERE status = 'pending'").fetchone()[0]
            dead = conn.execute("SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL").fetchone()[0]
            return int(pending), int(dead)

        return await self._read(op)

    async def ready(self) -> str | None:
        # A database file deleted or replaced under a running server still answers through the
        # open connections, into an inode nobody else will read: that is not ready.
        try:
            if os.stat(self.path).st_ino != self._inode:
                return f"sqlite: {self.path} is not the database this server opened"
        except OSError as exc:
            return f"sqlite: {exc}"

        def op(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

        try:
            version = await self._read(op)
        except StorageError as exc:
            return str(exc)
        latest = MIGRATIONS[-1][0]
        return None if version == latest else f"sqlite: schema version {version}, this server needs {latest}"

    async def purge(self, project_id: str, before: str) -> int:
        doomed = (
            "SELECT id FROM events WHERE project_id = ? AND received_at < ? ORDER BY received_at, id LIMIT ?"
        )
        params = (project_id, before, self.purge_chunk)

        def op(conn: sqlite3.Connection) -> int:
            conn.execute(f"DELETE FROM dead_letters WHERE event_id IN ({doomed})", params)
            return int(conn.execute(f"DELETE FROM events WHERE id IN ({doomed})", params).rowcount)

        # In chunks, each its own job: one huge DELETE would hold up every insert behind it.
        total = 0
        while (deleted := await self._write(op, savepoint=True)) > 0:
            total += deleted
            if deleted < self.purge_chunk:
                break
        return total


# --- PostgreSQL -------------------------------------------------------------------------------
