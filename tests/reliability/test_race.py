"""Many concurrent requests with one idempotency key make exactly one event, across processes too."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import EXAMPLE_CONFIG, fresh_postgres_url
from tests.servers import RunningServer, running_server

from .conftest import SERVERS, auth, require_generated, sendrealm_event, sqlite_url, stored_count
from .rawhttp import Connection, Reply

ROUNDS = 20
REQUESTS_PER_KEY = 48


async def storm(servers: Sequence[RunningServer], path: str, keys: Sequence[str]) -> dict[str, list[Reply]]:
    """For each key in turn, REQUESTS_PER_KEY identical requests at once, spread over the servers."""
    connections = [
        Connection(servers[i % len(servers)].base_url + path, auth()) for i in range(REQUESTS_PER_KEY)
    ]
    try:
        # Open the connections first, so the requests of one round reach the servers together.
        await asyncio.gather(*(c.connect() for c in connections))
        results = {}
        for n, key in enumerate(keys):
            body = sendrealm_event(key, n)
            results[key] = list(await asyncio.gather(*(c.post_json(body) for c in connections)))
        return results
    finally:
        await asyncio.gather(*(c.close() for c in connections))


def check_one_event_per_key(results: dict[str, list[Reply]]) -> None:
    for key, responses in results.items():
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {202: 1, 200: len(responses) - 1}, (key, statuses, responses[0].text)
        ids = {r.json()["data"]["id"] for r in responses}
        assert len(ids) == 1, f"{key}: {len(ids)} different ids"
        assert all(r.headers.get("idempotent-replayed") == "true" for r in responses if r.status_code == 200)
        assert all(r.json()["data"]["deduplicated"] is True for r in responses if r.status_code == 200)


def test_one_key_across_two_servers_on_postgresql_is_one_event(tmp_path: Path) -> None:
    require_generated("sendrealm")
    module, base, path = SERVERS["sendrealm"]
    db = fresh_postgres_url()
    keys = [f"race-{uuid.uuid4()}" for _ in range(ROUNDS)]
    # The servers start one after the other, so they do not race each other creating the tables.
    with (
        running_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path) as a,
        running_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path) as b,
    ):
        results = asyncio.run(storm([a, b], path, keys))
    check_one_event_per_key(results)
    assert stored_count("sendrealm", db) == ROUNDS


def test_one_key_on_sqlite_is_one_event(tmp_path: Path) -> None:
    # Identical requests land in the same group-commit batch here: the batch must still make one event.
    require_generated("sendrealm")
    module, base, path = SERVERS["sendrealm"]
    db = sqlite_url(tmp_path)
    keys = [f"race-{uuid.uuid4()}" for _ in range(ROUNDS)]
    with running_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path) as server:
        results = asyncio.run(storm([server], path, keys))
    check_one_event_per_key(results)
    assert stored_count("sendrealm", db) == ROUNDS
