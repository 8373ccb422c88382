"""Storage on both backends: durable group commit, race-free deduplication, the processing queue."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from tests.runtime.conftest import EventFactory, Runtime, stalled_writer

pytestmark = pytest.mark.anyio


def later(rt: Runtime, timestamp: str, seconds: float) -> str:
    return str(
        rt.storage.format_timestamp(rt.storage.parse_timestamp(timestamp) + timedelta(seconds=seconds))
    )


async def test_insert_then_get(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        event = make_event(idempotency_key="k1", payload=b'{"b": [1, 2], "a": "\xc3\xa9"}')
        stored, created = await storage.insert(event)
        assert created
        assert stored == rt.storage.StoredEvent.pending(event)
        assert await storage.get("acme", event.id) == stored
        assert await storage.get("other", event.id) is None
        assert await storage.get("acme", rt.uuid7.uuid7()) is None
        assert await storage.count() == 1
        assert await storage.count("acme") == 1
        assert await storage.count("other") == 0


async def test_committed_insert_survives_reopening(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    event = make_event(idempotency_key="durable")
    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(event)
    async with rt.storage.open_storage(store_url) as reopened:
        stored = await reopened.get("acme", event.id)
        assert stored is not None
        assert stored.payload == event.payload
        assert stored.status == "pending"
        # The key is still taken after the restart.
        again, created = await reopened.insert(make_event(idempotency_key="durable"))
        assert not created
        assert again.id == event.id


CRASHING_WRITER = """
import asyncio, importlib, os, sys
sys.path.insert(0, sys.argv[1])
storage = importlib.import_module(sys.argv[2] + ".storage")

async def main():
    store = storage.open_storage(sys.argv[3])
    await store.start()
    now = storage.utc_now()
    results = await asyncio.gather(*(
        store.insert(storage.NewEvent(f"{i:08d}-crash", "acme", "e", None, None, b"{}", now, now, None, None))
        for i in range(50)
    ))
    print(" ".join(stored.id for stored, _ in results), flush=True)
    os._exit(0)  # no close(): whatever insert() confirmed must already be durable

asyncio.run(main())
"""


async def test_confirmed_inserts_survive_a_process_that_dies(rt: Runtime, store_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_WRITER, str(rt.directory.parent), rt.package, store_url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await process.communicate()
    confirmed = stdout.decode().split()
    assert len(confirmed) == 50
    async with rt.storage.open_storage(store_url) as storage:
        assert await storage.count("acme") == 50
        assert all([await storage.get("acme", event_id) for event_id in confirmed])


async def test_concurrent_inserts_share_commits(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        before = storage.batches
        results = await asyncio.gather(*(storage.insert(make_event()) for _ in range(300)))
        assert all(created for _, created in results)
        assert await storage.count("acme") == 300
        commits = storage.batches - before
        assert 1 <= commits < 100, f"{commits} commits for 300 concurrent inserts"


async def test_sqlite_answers_two_event_loops_writing_at_once(
    rt: Runtime, tmp_path: Path, make_event: EventFactory
) -> None:
    # Each loop's jobs are held for its own iteration and answered on that loop.
    async with rt.storage.open_storage(f"sqlite:///{tmp_path / 'events.db'}") as storage:
        ours, theirs = [make_event() for _ in range(200)], [make_event() for _ in range(200)]

        async def insert_all(events: list[Any]) -> list[Any]:
            return list(await asyncio.gather(*(storage.insert(event) for event in events)))

        other_loop = asyncio.to_thread(asyncio.run, insert_all(theirs))
        mine, other = await asyncio.gather(insert_all(ours), other_loop)
        assert all(created for _, created in mine + other)
        assert [stored.id for stored, _ in other] == [event.id for event in theirs]
        assert await storage.count("acme") == 400


async def test_same_key_within_one_batch(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        first, second = make_event(idempotency_key="k"), make_event(idempotency_key="k")
        async with stalled_writer(storage, store_url, make_event):
            before = storage.batches
            tasks = [asyncio.create_task(storage.insert(e)) for e in (first, second)]
            await asyncio.sleep(0.05)
        (a, a_created), (b, b_created) = await asyncio.gather(*tasks)
        assert storage.batches - before == 2  # the stalled blocker's batch, then both together
        assert a_created and not b_created
        assert a.id == b.id == first.id
        assert await storage.count("acme") == 1


async def test_one_batch_of_new_rows_replays_and_leases(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    # One commit: rows that go in (one born leased), a replay of a stored key, and a key twice.
    async with rt.storage.open_storage(store_url) as storage:
        stored_before = make_event(idempotency_key="old")
        await storage.insert(stored_before)
        lease = rt.storage.format_timestamp(datetime(2099, 1, 1, tzinfo=UTC))
        new, leased, replay, twice = (
            make_event(idempotency_key="new"),
            make_event(idempotency_key="leased"),
            make_event(idempotency_key="old"),
            make_event(idempotency_key="twice"),
        )
        again = make_event(idempotency_key="twice")
        async with stalled_writer(storage, store_url, make_event):
            before = storage.batches
            tasks = [
                asyncio.create_task(storage.insert(new)),
                asyncio.create_task(storage.insert(leased, leased_until=lease)),
                asyncio.create_task(storage.insert(replay)),
                asyncio.create_task(storage.insert(twice)),
                asyncio.create_task(storage.insert(again)),
            ]
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*tasks)
        assert storage.batches - before == 2  # the stalled blocker's batch, then these together
        assert [(row.id, created) for row, created in results] == [
            (new.id, True), (leased.id, True), (stored_before.id, False), (twice.id, True), (twice.id, False)
        ]  # fmt: skip
        assert (await storage.get("acme", leased.id)).next_attempt_at == lease
        assert results[1][0].next_attempt_at == lease
        assert (await storage.get("acme", new.id)).next_attempt_at is None
        claimed = {event.id for event in await storage.claim_due(rt.storage.utc_now(), 10, 60)}
        assert leased.id not in claimed and {new.id, twice.id} <= claimed


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_postgresql_commits_a_batch_of_new_rows_in_one_round_trip(
    rt: Runtime, store_url: str, make_event: EventFactory, tmp_path: Path
) -> None:
    # The writer's connection is in autocommit: a batch's INSERT commits alone, with no BEGIN or
    # COMMIT of its own (each a round trip). libpq's own trace shows what went over the wire.
    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(make_event())  # the writer connects on its first batch
        pgconn = storage._wconn.pgconn
        trace = tmp_path / "libpq.trace"
        with trace.open("w") as out:
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            before = storage.batches
            results = await asyncio.gather(*(storage.insert(make_event()) for _ in range(50)))
            pgconn.untrace()
        batches = storage.batches - before
        assert all(created for _, created in results)
        sent = trace.read_text()
        assert sent.count("\tReadyForQuery\t") == batches, sent
        assert "BEGIN" not in sent and "COMMIT" not in sent


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_postgresql_splits_a_batch_of_large_events_by_size(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    # A batch's rows travel as one jsonb value, which PostgreSQL caps at 256 MB: past
    # `batch_bytes` of payload and item text, a batch goes in several statements, in order.
    async with rt.storage.open_storage(store_url) as storage:
        storage.batch_bytes = 5000
        payload = b'{"note":"' + b"x" * 2000 + b'"}'
        events = [make_event(idempotency_key=f"k{i}", payload=payload) for i in range(6)]
        again = make_event(idempotency_key="k5", payload=payload)
        async with stalled_writer(storage, store_url, make_event):
            before = storage.batches
            tasks = [asyncio.create_task(storage.insert(event)) for event in [*events, again]]
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*tasks)
        # The stalled blocker's batch, then 7 inserts of 2 KB each, two to a statement.
        assert storage.batches - before == 1 + 4
        assert [(row.id, created) for row, created in results] == [
            *((event.id, True) for event in events),
            (events[5].id, False),
        ]
        for event in events:
            assert (await storage.get("acme", event.id)).payload == payload


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_postgresql_new_rows_stand_when_their_batch_loses_the_connection_over_a_replay(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    # A batch's new rows are committed before its replays are looked at: losing the connection
    # while renewing an expired key fails that renewal only; the new event is stored and answered.
    async with rt.storage.open_storage(store_url) as storage:
        old = make_event(idempotency_key="k")
        await storage.insert(old)
        writer_pid = storage._wconn.pgconn.backend_pid
        async with await psycopg.AsyncConnection.connect(store_url) as locker:
            # The renewal's UPDATE of the old row waits behind this lock.
            await locker.execute("BEGIN")
            await locker.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (old.id,))
            new = make_event(idempotency_key="n")
            renewal = make_event(idempotency_key="k")
            inserts = [
                asyncio.create_task(storage.insert(new)),
                asyncio.create_task(storage.insert(renewal, remembered_since="2099-01-01T00:00:00.000Z")),
            ]
            async with await psycopg.AsyncConnection.connect(store_url, autocommit=True) as admin:
                for _ in range(100):
                    cursor = await admin.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (writer_pid,)
                    )
                    if (await cursor.fetchone()) == ("Lock",):
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("the renewal never waited for the locked row")
                await admin.execute("SELECT pg_terminate_backend(%s)", (writer_pid,))
            results = await asyncio.gather(*inserts, return_exceptions=True)
            await locker.execute("ROLLBACK")
        assert results[0] == (rt.storage.StoredEvent.pending(new, None), True)
        assert isinstance(results[1], rt.storage.StorageError), results[1]
        assert (await storage.get("acme", new.id)) is not None
        # The next batch reconnects, and the renewal goes through when sent again.
        stored, created = await storage.insert(renewal, remembered_since="2099-01-01T00:00:00.000Z")
        assert (stored.id, created) == (renewal.id, True)


async def test_text_comes_back_exactly_from_one_batch(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    # PostgreSQL receives a batch as one JSON text that the server takes apart: every character
    # JSON escapes must come back as it was sent, and the payload byte for byte.
    texts = ['quote " and back \\ slash', "line\nbreak\ttab", "é 中文 🎉 \u2028", "<&>'"]
    events = [
        make_event(
            event=text,
            identity_value=text,
            idempotency_key=text,
            payload=orjson.dumps({"text": text, "nul": "\x00", "n": 1.5e300}),
        )
        for text in texts
    ]
    async with rt.storage.open_storage(store_url) as storage:
        results = await asyncio.gather(*(storage.insert(event) for event in events))
        assert [created for _, created in results] == [True] * len(events)
        for event in events:
            stored = await storage.get("acme", event.id)
            assert (stored.event, stored.identity_value, stored.idempotency_key) == (event.event,) * 3
            assert stored.payload == event.payload


async def test_same_key_across_batches_returns_the_original(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        original = make_event(idempotency_key="k", occurred_at="2026-06-08T14:15:00.000Z")
        await storage.insert(original)
        retry = make_event(idempotency_key="k", occurred_at="2026-06-08T15:00:00.000Z", body_hash="f" * 64)
        stored, created = await storage.insert(retry)
        assert not created
        assert (stored.id, stored.occurred_at, stored.body_hash) == (
            original.id,
            original.occurred_at,
            "0" * 64,
        )


async def test_keys_are_per_project_and_none_never_dedupes(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        (_, a), (_, b) = await asyncio.gather(
            storage.insert(make_event("acme", "k")), storage.insert(make_event("globex", "k"))
        )
        (_, c), (_, d) = await asyncio.gather(
            storage.insert(make_event("acme")), storage.insert(make_event("acme"))
        )
        assert a and b and c and d
        assert await storage.count() == 4


async def test_200_racing_inserts_with_one_key_store_one_row(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        results = await asyncio.gather(
            *(storage.insert(make_event(idempotency_key="same")) for _ in range(200))
        )
        assert sum(created for _, created in results) == 1
        assert len({stored.id for stored, _ in results}) == 1
        assert await storage.count("acme") == 1


async def test_two_stores_racing_on_one_key(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    # Two storage instances stand for two server processes sharing one database.
    one, two = rt.storage.open_storage(store_url), rt.storage.open_storage(store_url)
    await asyncio.gather(one.start(), two.start())  # concurrent schema creation included
    try:
        inserts = [
            store.insert(make_event(idempotency_key="shared")) for _ in range(50) for store in (one, two)
        ]
        results = await asyncio.gather(*inserts)
        assert sum(created for _, created in results) == 1
        assert len({stored.id for stored, _ in results}) == 1
        assert await one.count("acme") == 1
    finally:
        await asyncio.gather(one.close(), two.close())


async def test_sqlite_start_waits_for_another_process_creating_the_file(rt: Runtime, tmp_path: Path) -> None:
    # A process starting while another one holds the new database must wait, not fail.
    path = tmp_path / "events.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    storage = rt.storage.open_storage(f"sqlite:///{path}")
    starting = asyncio.create_task(storage.start())
    await asyncio.sleep(0.2)
    assert not starting.done()
    other.execute("COMMIT")
    other.close()
    await starting
    await storage.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
async def test_sqlite_writer_waits_for_its_turn_only_while_commits_are_large(
    rt: Runtime, tmp_path: Path, make_event: EventFactory
) -> None:
    # Large commits: SCHED_BATCH (no wake-up preemption of a busy event loop); a lone request's
    # commit: the default policy again, so that it is not kept waiting behind other processes.
    async with rt.storage.open_storage(f"sqlite:///{tmp_path / 'events.db'}") as storage:
        writer = storage._writer
        assert writer is not None and writer.native_id is not None

        def policy() -> int:
            return os.sched_getscheduler(writer.native_id)

        assert (await storage.insert(make_event()))[1]
        assert policy() == os.SCHED_OTHER
        before = storage.batches
        results = await asyncio.gather(*(storage.insert(make_event()) for _ in range(100)))
        assert all(created for _, created in results)
        assert storage.batches - before == 1  # one iteration's jobs, one commit
        assert policy() == os.SCHED_BATCH
        assert (await storage.insert(make_event()))[1]
        assert policy() == os.SCHED_OTHER
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the event loop's thread is left as it was


async def test_a_failing_row_fails_alone(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        good = make_event(idempotency_key="a")
        clash = make_event(id=good.id, idempotency_key="b")  # same primary key: this row cannot be stored
        other = make_event(idempotency_key="c")
        async with stalled_writer(storage, store_url, make_event):
            tasks = [asyncio.create_task(storage.insert(e)) for e in (good, clash, other)]
            await asyncio.sleep(0.05)
        results: list[Any] = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[1], rt.storage.StorageError)
        assert results[0][1] and results[2][1]
        assert await storage.count("acme") == 2
        # The writer carries on.
        assert (await storage.insert(make_event()))[1]


async def test_a_malformed_event_fails_its_caller_only(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        results: Any = await asyncio.gather(
            storage.insert(make_event()),
            storage.insert(make_event(payload=b'{"name": "\xff"}')),
            storage.insert(make_event(payload=b"not json")),
            storage.insert(make_event()),
            return_exceptions=True,
        )
        assert isinstance(results[1], rt.storage.StorageError)
        assert results[0][1] and results[3][1]
        # PostgreSQL checks JSON syntax (json column); SQLite stores text as given.
        if store_url.startswith("postgresql"):
            assert isinstance(results[2], rt.storage.StorageError)


async def test_closed_storage_refuses_work(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    storage = rt.storage.open_storage(store_url)
    with pytest.raises(rt.storage.StorageClosed):
        await storage.insert(make_event())
    await storage.start()
    await storage.close()
    with pytest.raises(rt.storage.StorageClosed):
        await storage.insert(make_event())
    with pytest.raises(rt.storage.StorageClosed):
        await storage.count()


async def test_claims_oldest_first_and_leases(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        t0 = "2026-06-08T14:00:00.000Z"
        events = [make_event(received_at=later(rt, t0, -i)) for i in range(3)]  # newest first
        for event in events:
            await storage.insert(event)
        claimed = await storage.claim_due(t0, 2, 30)
        assert [e.id for e in claimed] == [events[2].id, events[1].id]
        assert {e.next_attempt_at for e in claimed} == {later(rt, t0, 30)}
        # Leased events are not handed out again while the lease runs...
        assert [e.id for e in await storage.claim_due(t0, 10, 30)] == [events[0].id]
        assert await storage.claim_due(later(rt, t0, 29), 10, 30) == []
        # ...and come back when it expires, as if their worker had died.
        assert len(await storage.claim_due(later(rt, t0, 31), 10, 30)) == 3


async def test_two_stores_claim_disjoint_events(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    one, two = rt.storage.open_storage(store_url), rt.storage.open_storage(store_url)
    await one.start()
    await two.start()
    try:
        await asyncio.gather(*(one.insert(make_event()) for _ in range(40)))
        now = rt.storage.utc_now()
        batches = await asyncio.gather(
            *(store.claim_due(now, 7, 60) for store in (one, two, one, two, one, two))
        )
        ids = [e.id for batch in batches for e in batch]
        # Six claims of seven cover all forty events, none of them twice.
        assert len(ids) == len(set(ids)) == 40
    finally:
        await one.close()
        await two.close()


async def test_retry_dead_letter_and_processed(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        ok, bad = make_event(), make_event(payload=b'{"x":1}')
        await storage.insert(ok)
        await storage.insert(bad)
        await storage.mark_processed(ok.id)
        retry_at = "2099-01-01T00:00:00.000Z"
        await storage.mark_retry(bad.id, "ValueError: first", retry_at)
        stored = await storage.get("acme", bad.id)
        assert (stored.status, stored.attempts, stored.last_error, stored.next_attempt_at) == (
            "pending", 1, "ValueError: first", retry_at
        )  # fmt: skip
        await storage.dead_letter(bad.id, "ValueError: last")
        stored = await storage.get("acme", bad.id)
        assert (stored.status, stored.attempts, stored.last_error) == ("dead", 2, "ValueError: last")
        assert (await storage.get("acme", ok.id)).status == "processed"
        [letter] = await storage.dead_letters("acme")
        assert letter["event_id"] == bad.id
        assert letter["payload"] == b'{"x":1}'
        assert (letter["attempts"], letter["last_error"], letter["project_id"]) == (
            2,
            "ValueError: last",
            "acme",
        )
        assert isinstance(letter["dead_at"], str)
        assert await storage.dead_letters("globex") == []
        assert len(await storage.dead_letters()) == 1
        assert await storage.claim_due(retry_at, 10, 60) == []  # neither processed nor dead events are due


async def test_purge_deletes_old_events_and_their_dead_letters(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        old = [make_event(received_at="2026-01-01T00:00:00.000Z") for _ in range(3)]
        new = make_event(received_at="2026-03-01T00:00:00.000Z")
        elsewhere = make_event("globex", received_at="2026-01-01T00:00:00.000Z")
        for event in [*old, new, elsewhere]:
            await storage.insert(event)
        await storage.dead_letter(old[0].id, "boom")
        storage.purge_chunk = 2  # so the purge takes several rounds
        assert await storage.purge("acme", "2026-02-01T00:00:00.000Z") == 3
        assert await storage.count("acme") == 1
        assert await storage.count("globex") == 1
        assert await storage.dead_letters("acme") == []
        assert await storage.purge("acme", "2026-02-01T00:00:00.000Z") == 0


def test_open_storage_reads_the_url(rt: Runtime, tmp_path: Any) -> None:
    open_storage = rt.storage.open_storage
    assert open_storage("sqlite:///var/events.db").path == "var/events.db"
    assert open_storage(f"sqlite:///{tmp_path}/e.db").path == f"{tmp_path}/e.db"
    assert open_storage("events.db").path == "events.db"
    assert isinstance(open_storage("postgresql://u:p@localhost/db"), rt.storage_postgres.PostgresStorage)
    with pytest.raises(rt.storage.StorageConfigError):
        open_storage("mysql://localhost/db")
    with pytest.raises(rt.storage.StorageConfigError):
        open_storage("sqlite:///:memory:")


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_postgres_recovers_from_lost_connections(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(make_event())
        await storage.count()
        # As if the server restarted: every connection of this storage is cut (and only those, as
        # other tests may share the server).
        pids = [storage._wconn.info.backend_pid] + [conn.info.backend_pid for conn in storage._pool._idle]
        async with await psycopg.AsyncConnection.connect(store_url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        # The batch in flight fails (its fate is unknown to us); the next ones reconnect.
        with pytest.raises(rt.storage.StorageError):
            await storage.insert(make_event())
        with pytest.raises(rt.storage.StorageError):
            await storage.count()
        assert (await storage.insert(make_event()))[1]
        assert await storage.count("acme") == 2


async def test_a_key_past_its_window_makes_one_new_event(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        old = make_event(idempotency_key="k", received_at="2026-01-01T00:00:00.000Z")
        await storage.insert(old)
        since = later(rt, rt.storage.utc_now(), -60)
        # Within one batch and across batches: exactly one renewal, the rest replay it.
        async with stalled_writer(storage, store_url, make_event):
            tasks = [
                asyncio.create_task(storage.insert(make_event(idempotency_key="k"), since)) for _ in range(5)
            ]
            await asyncio.sleep(0.05)
        results = await asyncio.gather(
            *tasks, *(storage.insert(make_event(idempotency_key="k"), since) for _ in range(5))
        )
        created = [stored for stored, is_new in results if is_new]
        assert len(created) == 1
        assert {stored.id for stored, _ in results} == {created[0].id}
        assert await storage.count("acme") == 2
        # The old event is kept, without its key; the key stays with the new one.
        kept = await storage.get("acme", old.id)
        assert kept is not None and kept.idempotency_key is None
        again, is_new = await storage.insert(make_event(idempotency_key="k"), since)
        assert not is_new and again.id == created[0].id


async def test_a_key_within_its_window_replays(rt: Runtime, store_url: str, make_event: EventFactory) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        first, _ = await storage.insert(make_event(idempotency_key="k"))
        since = later(rt, rt.storage.utc_now(), -60)
        stored, created = await storage.insert(make_event(idempotency_key="k"), since)
        assert not created and stored.id == first.id


async def test_renewals_from_two_stores_on_one_database_make_one_event(
    rt: Runtime, store_url: str, make_event: EventFactory
) -> None:
    # Two storages on one database stand for two server processes racing on one expired key.
    async with rt.storage.open_storage(store_url) as one, rt.storage.open_storage(store_url) as two:
        await one.insert(make_event(idempotency_key="k", received_at="2026-01-01T00:00:00.000Z"))
        since = later(rt, rt.storage.utc_now(), -60)
        results = await asyncio.gather(
            *(store.insert(make_event(idempotency_key="k"), since) for store in (one, two) * 10)
        )
        assert sum(created for _, created in results) == 1
        assert len({stored.id for stored, _ in results}) == 1
        assert await one.count("acme") == 2
