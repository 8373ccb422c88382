"""Versioned migrations: a store written by the release before versioning is upgraded on start,
on SQLite and PostgreSQL, keeping its events; a newer store is refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.runtime.conftest import Runtime

DATA = Path(__file__).resolve().parent / "data"
DEAD = "0190f3a0-0000-7000-8000-000000000003"
PENDING = "0190f3a0-0000-7000-8000-000000000001"

pytestmark = pytest.mark.anyio


def run_sql(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run `sql` on the store behind `url` with a plain driver connection; the last statement's rows."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            *head, last = [s for s in sql.split(";\n") if s.strip()]
            for statement in head:
                conn.execute(statement)
            return conn.execute(last).fetchall()
    with psycopg.connect(url, autocommit=True) as pg:
        cursor = pg.execute(sql.encode())
        return cursor.fetchall() if cursor.description is not None else []


def write_previous_release(url: str) -> None:
    backend = "sqlite" if url.startswith("sqlite") else "postgres"
    sql = (DATA / f"store_v1_{backend}.sql").read_text()
    if backend == "sqlite":
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            conn.executescript(sql)
    else:
        run_sql(url, sql)


async def test_a_store_of_the_previous_release_is_upgraded_on_start(rt: Runtime, store_url: str) -> None:
    write_previous_release(store_url)
    async with rt.storage.open_storage(store_url) as storage:
        assert await storage.ready() is None
        assert await storage.count() == 3
        pending = await storage.get("acme", PENDING)
        assert (pending.status, pending.idempotency_key, pending.payload) == (
            "pending",
            "key-1",
            b'{"order_id":"ord_1"}',
        )
        [letter] = await storage.dead_letters()
        assert (letter["event_id"], letter["attempts"], letter["last_error"], letter["redriven_at"]) == (
            DEAD,
            5,
            "boom",
            None,
        )
        assert await storage.backlog() == (1, 1)
        # What version 2 added works on the upgraded store.
        assert await storage.redrive(DEAD) is True
        assert await storage.backlog() == (2, 0)
        assert (await storage.get("acme", DEAD)).attempts == 0
        # Version 3 keeps the whole item: none for the events stored before, the new ones' as sent.
        assert pending.item is None
        now = "2026-06-08T14:15:00.000Z"
        item = b'{"event":"e","context":{"traits":{"plan":"pro"}}}'
        new = rt.storage.NewEvent(
            "0190f3a0-0000-7000-8000-000000000009", "acme", "e", None, None, b"{}", now, now, None, None, item
        )
        await storage.insert(new)
        assert (await storage.get("acme", new.id)).item == item
        # Version 4 keeps the item in dead letters: none for the one written before.
        assert letter["item"] is None
    versions = run_sql(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == [1, 2, 3, 4]


async def test_dead_letters_written_before_version_4_get_their_events_item(
    rt: Runtime, store_url: str
) -> None:
    now = "2026-06-08T14:15:00.000Z"
    item = b'{"event":"e","userId":"u1","context":{"traits":{"plan":"pro"}}}'
    new = rt.storage.NewEvent(
        "0190f3a0-0000-7000-8000-00000000000a", "acme", "e", "user", "u1", b"{}", now, now, None, None, item
    )
    async with rt.storage.open_storage(store_url) as storage:
        await storage.insert(new)
        await storage.dead_letter(new.id, "boom")
    # The store as version 3 left it: dead letters without the item column.
    run_sql(
        store_url, "ALTER TABLE dead_letters DROP COLUMN item;\nDELETE FROM schema_version WHERE version = 4"
    )
    async with rt.storage.open_storage(store_url) as storage:
        [letter] = await storage.dead_letters()
        assert (letter["event_id"], letter["item"]) == (new.id, item)


async def test_migrations_run_once_when_processes_start_together(rt: Runtime, store_url: str) -> None:
    write_previous_release(store_url)
    stores = [rt.storage.open_storage(store_url) for _ in range(3)]
    await asyncio.gather(*(s.start() for s in stores))
    for store in stores:
        assert await store.ready() is None
        await store.close()
    versions = run_sql(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in versions] == [1, 2, 3, 4]


async def test_a_store_missing_a_migration_is_not_ready(rt: Runtime, store_url: str) -> None:
    async with rt.storage.open_storage(store_url) as storage:
        assert await storage.ready() is None
        run_sql(store_url, "DELETE FROM schema_version WHERE version = 4")
        assert "schema version 3" in str(await storage.ready())


async def test_a_store_newer_than_the_server_is_refused(rt: Runtime, store_url: str) -> None:
    async with rt.storage.open_storage(store_url):
        pass
    run_sql(store_url, "INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')")
    storage = rt.storage.open_storage(store_url)
    with pytest.raises(rt.storage.StorageError, match="version 99, newer"):
        await storage.start()
    await storage.close()


async def test_a_sqlite_file_deleted_under_the_server_is_not_ready(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with rt.storage.open_storage(f"sqlite:///{path}") as storage:
        assert await storage.ready() is None
        path.unlink()
        assert "No such file" in str(await storage.ready())
