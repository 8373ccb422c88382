"""kill -9 in the middle of a load: nothing acknowledged is lost, nothing retried is doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE_CONFIG
from tests.servers import start_server

from .conftest import SERVERS, auth, require_generated, sendrealm_event, sqlite_url, stored_count
from .rawhttp import Connection, Reply

EVENTS = 2000
CLIENTS = 32
KILL_AFTER = EVENTS // 3  # acknowledgements before the crash


async def send_all(
    url: str, bodies: dict[str, dict[str, Any]], kill_pid: int | None
) -> dict[str, Reply | None]:
    """Post every body from CLIENTS concurrent connections; None for a request that got no answer.

    With kill_pid, the server is killed (SIGKILL) as soon as KILL_AFTER requests were acknowledged,
    while the other clients have requests in flight.
    """
    results: dict[str, Reply | None] = {}
    pending = list(reversed(bodies))
    acknowledged = 0

    async def client() -> None:
        nonlocal acknowledged, kill_pid
        connection = Connection(url, auth())
        try:
            while pending:
                key = pending.pop()
                try:
                    response = await connection.post_json(bodies[key])
                except ConnectionError:
                    results[key] = None
                    continue
                results[key] = response
                if response.is_success:
                    acknowledged += 1
                    if kill_pid is not None and acknowledged >= KILL_AFTER:
                        os.kill(kill_pid, signal.SIGKILL)
                        kill_pid = None
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return results


async def twice(url: str, bodies: dict[str, dict[str, Any]]) -> list[dict[str, Reply | None]]:
    """Every request sent twice at once, from two sets of clients: as impatient clients retry."""
    return list(
        await asyncio.gather(send_all(url, bodies, None), send_all(url, dict(reversed(bodies.items())), None))
    )


def test_kill_9_mid_load_loses_no_acknowledged_event_and_retries_make_one(tmp_path: Path) -> None:
    require_generated("sendrealm")
    module, base, path = SERVERS["sendrealm"]
    db = sqlite_url(tmp_path)
    run = uuid.uuid4().hex[:8]
    bodies = {f"crash-{run}-{i}": sendrealm_event(f"crash-{run}-{i}", i) for i in range(EVENTS)}

    server = start_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path)
    try:
        first = asyncio.run(send_all(server.base_url + path, bodies, server.process.pid))
        assert server.process.wait(10) == -signal.SIGKILL
    finally:
        server.stop()
    acked = {
        key: r.json()["data"]["id"] for key, r in first.items() if r is not None and r.status_code == 202
    }
    unanswered = [key for key, r in first.items() if r is None]
    refused = {key: (r.status_code, r.text) for key, r in first.items() if r is not None and not r.is_success}
    assert not refused, f"refused before the crash: {list(refused.items())[:3]}"
    assert len(acked) >= KILL_AFTER and unanswered, (len(acked), len(unanswered))

    server = start_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path)
    try:
        # Each unanswered request is retried, twice at once, with its idempotency key.
        retried = {key: bodies[key] for key in unanswered}
        second, third = asyncio.run(twice(server.base_url + path, retried))
        # And every acknowledged one once more: it must replay, with the id the client was given.
        replays = asyncio.run(send_all(server.base_url + path, {k: bodies[k] for k in acked}, None))
    finally:
        server.stop()

    committed_unacked = 0
    for key in unanswered:
        a, b = second[key], third[key]
        assert a is not None and b is not None
        statuses = sorted((a.status_code, b.status_code))
        assert statuses in ([200, 200], [200, 202]), (a.text, b.text)
        assert a.json()["data"]["id"] == b.json()["data"]["id"], "two retries of one key made two events"
        committed_unacked += statuses == [200, 200]  # the crash came after its commit, before its answer
    for key, event_id in acked.items():
        replay = replays[key]
        assert replay is not None and replay.status_code == 200, replay and replay.text
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json()["data"]["id"] == event_id, "an acknowledged event came back with another id"
    # One event per key, no more, no fewer: every 202 is there exactly once, every retry made at most one.
    assert stored_count("sendrealm", db) == EVENTS
    print(
        f"acked before the crash {len(acked)}, unanswered {len(unanswered)} "
        f"(of which committed before the crash: {committed_unacked})"
    )
