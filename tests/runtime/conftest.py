"""Fixtures for the runtime modules: the templates copied into a package, and fresh stores."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MODULES = (
    "entropy",
    "uuid7",
    "timestamps",
    "logs",
    "storage",
    "storage_sqlite",
    "storage_postgres",
    "worker",
    "metrics",
)


@dataclass(frozen=True)
class Runtime:
    """The rendered runtime modules, imported as one package."""

    package: str
    directory: Path  # the package's folder; its parent goes on sys.path of a child process
    entropy: ModuleType
    uuid7: ModuleType
    timestamps: ModuleType
    logs: ModuleType
    storage: ModuleType
    storage_sqlite: ModuleType
    storage_postgres: ModuleType
    worker: ModuleType
    metrics: ModuleType


@pytest.fixture(scope="session")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """Copy the runtime modules (plain Python in templates/) into a fresh package and import it."""
    package = f"ingestspec_rt_{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp("runtime") / package
    directory.mkdir()
    (directory / "__init__.py").write_text("")
    for name in MODULES:
        (directory / f"{name}.py").write_text((TEMPLATES / f"{name}.py").read_text())
    spec = importlib.util.spec_from_file_location(
        package, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    yield Runtime(package, directory, *(importlib.import_module(f"{package}.{name}") for name in MODULES))
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _postgres_admin_url() -> str:
    url = os.environ.get("INGESTSPEC_TEST_PG")
    if not url:
        pytest.skip(
            "PostgreSQL tests need INGESTSPEC_TEST_PG; run "
            'export INGESTSPEC_TEST_PG="$(scripts/postgres.sh | tail -n1)"'
        )
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty store: a SQLite file, or a new schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    admin = _postgres_admin_url()
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in admin else "?"
    yield f"{admin}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


EventFactory = Callable[..., Any]


@pytest.fixture
def make_event(rt: Runtime) -> EventFactory:
    """Build a NewEvent with a fresh id; keyword arguments override fields."""

    def make(project_id: str = "acme", idempotency_key: str | None = None, **fields: Any) -> Any:
        now = rt.storage.utc_now()
        values: dict[str, Any] = {
            "id": rt.uuid7.uuid7(),
            "project_id": project_id,
            "event": "order.completed",
            "identity_type": "contact_id",
            "identity_value": "c-1",
            "payload": b'{"order_id":"ord_1","total":4900}',
            "occurred_at": now,
            "received_at": now,
            "idempotency_key": idempotency_key,
            "body_hash": None if idempotency_key is None else "0" * 64,
        }
        values.update(fields)
        return rt.storage.NewEvent(**values)

    return make


@contextlib.asynccontextmanager
async def stalled_writer(storage: Any, url: str, make_event: EventFactory) -> AsyncIterator[None]:
    """Hold the store's writer inside one insert until the block exits.

    Inserts started inside the block queue up behind it and so reach the writer together, as
    one batch: the way to test what happens *within* a group commit.
    """
    blocker = make_event(project_id="blocker", idempotency_key="blocker")
    if url.startswith("sqlite:///"):
        # Another connection holds the write lock; the writer waits in BEGIN IMMEDIATE.
        lock = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            stalled = asyncio.create_task(storage.insert(blocker))
            await asyncio.sleep(0.1)
            yield
            await asyncio.sleep(0.05)
        finally:
            lock.execute("COMMIT")
            lock.close()
    else:
        # Another transaction inserted the blocker's key; the writer waits on the unique index.
        conn = await psycopg.AsyncConnection.connect(url)
        try:
            await conn.execute(
                "INSERT INTO events (id, project_id, event, payload, occurred_at, received_at,"
                " idempotency_key) VALUES (%s, %s, 'x', '{}', %s, %s, %s)",
                (blocker.id + "-other", "blocker", blocker.received_at, blocker.received_at, "blocker"),
            )
            stalled = asyncio.create_task(storage.insert(blocker))
            await asyncio.sleep(0.1)
            yield
            await asyncio.sleep(0.05)
        finally:
            await conn.commit()
            await conn.close()
    await stalled
