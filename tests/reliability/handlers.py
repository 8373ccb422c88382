"""Processing handlers for the worker tests, loaded by a server started with `--handler`.

Each call appends one JSON line (event id, time, outcome, pid) to the file named by
INGESTSPEC_ATTEMPTS_LOG, so a test sees every attempt and when it happened, across restarts.
`flaky` fails the first INGESTSPEC_FLAKY_FAILURES (default 2) attempts for each event, then
succeeds; `always_fails` never succeeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any


class HandlerFailed(RuntimeError):
    """The deliberate failure; its message names the attempt, so a dead letter shows the last one."""


def _event_id(event: Any) -> str:
    value = event.get("id") if isinstance(event, dict) else event.id
    return str(value)


def _log() -> Path:
    return Path(os.environ["INGESTSPEC_ATTEMPTS_LOG"])


def _previous_attempts(event_id: str) -> int:
    try:
        lines = _log().read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for line in lines if json.loads(line)["id"] == event_id)


def _record(event_id: str, outcome: str) -> None:
    line = json.dumps({"id": event_id, "t": time.time(), "outcome": outcome, "pid": os.getpid()})
    # One short write to a file opened for appending: lines from one process never interleave.
    with _log().open("a") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


async def flaky(event: Any) -> None:
    """Fail the first K attempts for each event, then succeed."""
    event_id = _event_id(event)
    attempt = _previous_attempts(event_id) + 1
    if attempt <= int(os.environ.get("INGESTSPEC_FLAKY_FAILURES", "2")):
        _record(event_id, "fail")
        raise HandlerFailed(f"deliberate failure {attempt}")
    _record(event_id, "ok")


async def always_fails(event: Any) -> None:
    """Never succeed, so the event ends in the dead-letter table."""
    event_id = _event_id(event)
    attempt = _previous_attempts(event_id) + 1
    _record(event_id, "fail")
    raise HandlerFailed(f"deliberate failure {attempt}")


def attempts(log: Path) -> dict[str, list[dict[str, Any]]]:
    """Every recorded attempt, by event id, in order."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            record = json.loads(line)
            by_event.setdefault(record["id"], []).append(record)
    return by_event


async def quiet(event: Any) -> None:
    """Succeed without a word: processing at load without a log line per event (the soak)."""


async def slow(event: Any) -> None:
    """Take INGESTSPEC_HANDLER_SECONDS (default 0.1) per event, then record success."""
    await asyncio.sleep(float(os.environ.get("INGESTSPEC_HANDLER_SECONDS", "0.1")))
    _record(_event_id(event), "ok")
