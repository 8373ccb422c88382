"""The processing worker: growing retry delays, dead letters with the last error, restarts mid-retry.

The spec's backoff is 1 s, doubling, 5 attempts; the tests run on it as generated (the server has
no knob to scale it), so they take 1 + 2 + 4 + 8 s for a dead letter.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.servers import RunningServer, start_server

from .conftest import SERVERS, auth, require_generated, sendrealm_event, sqlite_url, with_storage
from .handlers import attempts

BACKOFF = [1.0, 2.0, 4.0, 8.0]  # the spec's x-ingest.processing: 1 s initial, x2, 5 attempts
JITTER = 0.1  # the worker adds up to 10% of the delay
POLL = 1.0  # the worker looks for due events once a second when idle
SLACK = 2.0  # a loaded machine: the lower bounds are what show the growth


@pytest.fixture
def attempts_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "attempts.jsonl"
    monkeypatch.setenv("INGESTSPEC_ATTEMPTS_LOG", str(log))
    return log


def serve(tmp_path: Path, db: str, handler: str) -> RunningServer:
    require_generated("sendrealm")
    module, base, _ = SERVERS["sendrealm"]
    return start_server(module, EXAMPLE_CONFIG, db, base, log_dir=tmp_path, extra=["--handler", handler])


def send(server: RunningServer, n: int = 0) -> str:
    response = httpx.post(
        server.base_url + "/events", json=sendrealm_event(f"w-{uuid.uuid4()}", n), headers=auth()
    )
    assert response.status_code == 202, response.text
    event_id: str = response.json()["data"]["id"]
    return event_id


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def gaps(records: list[dict[str, Any]]) -> list[float]:
    return [b["t"] - a["t"] for a, b in zip(records, records[1:], strict=False)]


def check_backoff(observed: list[float]) -> None:
    for n, (gap, delay) in enumerate(zip(observed, BACKOFF, strict=False), start=1):
        assert delay - 0.05 <= gap <= delay * (1 + JITTER) + POLL + SLACK, f"retry {n}: {observed}"


def stored(db: str, event_id: str) -> Any:
    async def get(storage: Any) -> Any:
        return await storage.get("acme", event_id)

    return with_storage("sendrealm", db, get)


def test_a_flaky_handler_is_retried_with_growing_delays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attempts_log: Path
) -> None:
    monkeypatch.setenv("INGESTSPEC_FLAKY_FAILURES", "2")
    db = sqlite_url(tmp_path)
    server = serve(tmp_path, db, "tests.reliability.handlers:flaky")
    try:
        ids = [send(server, n) for n in range(3)]
        done = lambda: all(any(r["outcome"] == "ok" for r in attempts(attempts_log).get(i, [])) for i in ids)  # noqa: E731
        wait_for(
            done, sum(BACKOFF[:2]) * (1 + JITTER) + 3 * POLL + 10, "three events to succeed on the third try"
        )
        time.sleep(POLL + 0.5)  # nothing more may happen to them
    finally:
        server.stop()
    for event_id in ids:
        records = attempts(attempts_log)[event_id]
        assert [r["outcome"] for r in records] == ["fail", "fail", "ok"]
        check_backoff(gaps(records))
        row = stored(db, event_id)
        assert (row.status, row.attempts) == ("processed", 2)
        assert "deliberate failure 2" in row.last_error


def test_a_handler_that_always_fails_ends_in_the_dead_letters(tmp_path: Path, attempts_log: Path) -> None:
    db = sqlite_url(tmp_path)
    server = serve(tmp_path, db, "tests.reliability.handlers:always_fails")
    try:
        event_id = send(server)
        wait_for(
            lambda: len(attempts(attempts_log).get(event_id, [])) >= 5,
            sum(BACKOFF) * 1.1 + 5 * POLL + 10,
            "five attempts",
        )
        time.sleep(POLL + 1)  # a sixth attempt would come within a poll; the dead letter is written by now
    finally:
        server.stop()
    records = attempts(attempts_log)[event_id]
    assert len(records) == 5, "the event was tried more often than max_attempts"
    check_backoff(gaps(records))

    async def letters(storage: Any) -> Any:
        return await storage.dead_letters("acme")

    dead = with_storage("sendrealm", db, letters)
    assert [d["event_id"] for d in dead] == [event_id]
    assert dead[0]["attempts"] == 5
    assert "deliberate failure 5" in str(dead[0]["last_error"])
    assert stored(db, event_id).status == "dead"


def test_a_restart_during_retries_neither_loses_nor_repeats_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attempts_log: Path
) -> None:
    monkeypatch.setenv("INGESTSPEC_FLAKY_FAILURES", "3")
    db = sqlite_url(tmp_path)
    server = serve(tmp_path, db, "tests.reliability.handlers:flaky")
    try:
        ids = [send(server, n) for n in range(4)]
        wait_for(lambda: all(attempts(attempts_log).get(i) for i in ids), 10, "every event's first attempt")
        # Between attempts: the failures are recorded and the first retry is not due for 1 s yet.
        time.sleep(0.3)
        server.process.send_signal(signal.SIGKILL)
        assert server.process.wait(10) == -signal.SIGKILL
    finally:
        server.stop()
    before_restart = {i: len(attempts(attempts_log)[i]) for i in ids}
    server = serve(tmp_path, db, "tests.reliability.handlers:flaky")
    try:
        done = lambda: all(any(r["outcome"] == "ok" for r in attempts(attempts_log).get(i, [])) for i in ids)  # noqa: E731
        wait_for(
            done, sum(BACKOFF[:3]) * (1 + JITTER) + 4 * POLL + 15, "every event to succeed after the restart"
        )
        time.sleep(POLL + 1)
    finally:
        server.stop()
    for event_id in ids:
        records = attempts(attempts_log)[event_id]
        outcomes = [r["outcome"] for r in records]
        # Not lost: every event went on being retried by the new process and succeeded; no more
        # than at-least-once: it stopped at the first success.
        assert outcomes == ["fail", "fail", "fail", "ok"], (before_restart[event_id], outcomes)
        assert len({r["pid"] for r in records}) == 2, "the retries did not continue in the restarted process"
        row = stored(db, event_id)
        assert (row.status, row.attempts) == ("processed", 3)
