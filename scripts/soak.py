"""`make soak`: drive a generated server for a while with mixed traffic, then check nothing was lost.

The Sendrealm server (SQLite by default, `--db postgresql://...` otherwise) gets, from a few
keep-alive connections at a steady rate: new events (each with its own idempotency key), replays of
acknowledged ones (the same body: the same id must come back), and requests it must refuse (bad JSON,
no contact, a reserved name, an unknown key, a body over the limit). Its worker processes meanwhile.

At the end: every acknowledged event is stored exactly once (and nothing else is), every replay
answered the original id, no 5xx, the backlog drains, and the server's memory and open files are
flat (the last fifth of the run against the second fifth). Prints the figures; exit 1 on a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.reliability.conftest import ACME_KEY, sendrealm_event  # noqa: E402
from tests.reliability.rawhttp import Connection, Reply  # noqa: E402
from tests.servers import RunningServer, running_server  # noqa: E402

CONFIG = REPO / "examples" / "config.yaml"
ACME_LIMIT = 32768  # acme's payload_limit_bytes in examples/config.yaml


@dataclass
class Tally:
    """What the clients saw."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> event id
    keys: list[str] = field(default_factory=list)  # the same keys, in order, to pick recent ones from
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status) -> count
    wrong: list[str] = field(default_factory=list)  # answers that break a promise
    transport_errors: int = 0


@dataclass
class Sample:
    at: float
    rss_kib: int
    open_files: int


def sample(pid: int, started: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return Sample(time.monotonic() - started, rss, len(os.listdir(f"/proc/{pid}/fd")))


EXPECTED = {"new": 202, "replay": 200, "bad_json": 400, "no_contact": 400, "reserved": 422, "oversize": 413}


async def client(url: str, tally: Tally, deadline: float, interval: float, seed: int) -> None:
    rng = random.Random(seed)
    good = Connection(url, {"Authorization": f"Bearer {ACME_KEY}"})
    stranger = Connection(url, {"Authorization": "Bearer be_unknown_key"})
    n = 0
    while time.monotonic() < deadline:
        next_at = time.monotonic() + interval
        n += 1
        roll = rng.random()
        key = f"soak-{seed}-{n}"
        kind: str
        body: Any
        if roll < 0.6 or not tally.acknowledged:
            kind, body = "new", sendrealm_event(key, n)
        elif roll < 0.75:
            kind = "replay"
            key = rng.choice(tally.keys[-1000:])  # mostly recent keys, as a client's retries would be
            body = sendrealm_event(key, int(key.rsplit("-", 1)[1]))
        elif roll < 0.8:
            kind, body = "bad_json", None
        elif roll < 0.85:
            kind, body = "no_contact", {k: v for k, v in sendrealm_event(key, n).items() if k != "contact_id"}
        elif roll < 0.9:
            kind, body = "reserved", {**sendrealm_event(key, n), "event": "sendrealm.mail.delivery"}
        elif roll < 0.95:
            kind, body = "oversize", {**sendrealm_event(key, n), "payload": {"blob": "x" * ACME_LIMIT}}
        else:
            kind, body = "unknown_key", sendrealm_event(key, n)
        connection = stranger if kind == "unknown_key" else good
        try:
            reply = await (connection.post_raw(b"{not json") if body is None else connection.post_json(body))
        except ConnectionError:
            tally.transport_errors += 1
            continue
        judge(tally, kind, key, reply)
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await good.close()
    await stranger.close()


def judge(tally: Tally, kind: str, key: str, reply: Reply) -> None:
    tally.statuses[(kind, reply.status_code)] += 1
    expected = EXPECTED.get(kind, 401)
    if reply.status_code != expected:
        tally.wrong.append(f"{kind}: {reply.status_code} {reply.text[:200]}")
        return
    if kind == "new":
        tally.acknowledged[key] = reply.json()["data"]["id"]
        tally.keys.append(key)
    elif kind == "replay" and reply.json()["data"]["id"] != tally.acknowledged[key]:
        tally.wrong.append(f"replay of {key} answered another id")


def stored(db: Path) -> tuple[list[tuple[str, str | None]], Counter[str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, idempotency_key FROM events WHERE project_id = 'acme'").fetchall()
        statuses = Counter(
            dict(conn.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall())
        )
    return rows, statuses


async def drive(
    server: RunningServer, seconds: float, rate: float, clients: int, samples: list[Sample], started: float
) -> Tally:
    tally = Tally()
    deadline = started + seconds
    pid = server.process.pid

    async def watch() -> None:
        while time.monotonic() < deadline:
            samples.append(sample(pid, started))
            await asyncio.sleep(min(10.0, seconds / 20))

    url = server.base_url + "/events"
    await asyncio.gather(
        watch(), *(client(url, tally, deadline, clients / rate, seed) for seed in range(clients))
    )
    return tally


def flat(samples: list[Sample]) -> tuple[Sample, Sample]:
    """Medians of the second fifth of the run (warmed up) and of the last fifth."""
    fifth = max(1, len(samples) // 5)
    early, late = samples[fifth : 2 * fifth], samples[-fifth:]
    return (
        Sample(
            early[0].at, int(statistics.median(s.rss_kib for s in early)), max(s.open_files for s in early)
        ),
        Sample(late[-1].at, int(statistics.median(s.rss_kib for s in late)), max(s.open_files for s in late)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to drive the server")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all clients together")
    parser.add_argument("--clients", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="how long the backlog may take")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    db = workdir / "events.db"
    samples: list[Sample] = []
    with running_server(
        "generated_server.sendrealm",
        CONFIG,
        f"sqlite:///{db}",
        "",
        log_dir=workdir,
        extra=["--no-access-log", "--handler", "tests.reliability.handlers:quiet"],
    ) as server:
        plan = f"{args.seconds:.0f} s at {args.rate:.0f} req/s on {args.clients} connections"
        print(f"soak: {plan}; files in {workdir}", flush=True)
        started = time.monotonic()
        tally = asyncio.run(drive(server, args.seconds, args.rate, args.clients, samples, started))
        drain_start = time.monotonic()
        while True:
            rows, statuses = stored(db)
            if statuses.get("pending", 0) == 0 or time.monotonic() - drain_start > args.drain_seconds:
                break
            time.sleep(1)
        drained_in = time.monotonic() - drain_start
        samples.append(sample(server.process.pid, started))
        server_errors = [line for line in server.log.read_text().splitlines() if "Traceback" in line]

    ids = [row[0] for row in rows]
    by_key = Counter(row[1] for row in rows)
    lost = set(tally.acknowledged.values()) - set(ids)
    extra = set(ids) - set(tally.acknowledged.values())
    duplicated = {key: n for key, n in by_key.items() if n > 1}
    early, late = flat(samples)
    total = sum(tally.statuses.values())
    failures = []
    if lost:
        failures.append(f"{len(lost)} acknowledged events not stored")
    if extra:
        failures.append(f"{len(extra)} stored events never acknowledged")
    if duplicated or len(ids) != len(set(ids)):
        failures.append(f"{len(duplicated)} idempotency keys stored more than once")
    if tally.wrong:
        failures.append(f"{len(tally.wrong)} wrong answers, e.g. {tally.wrong[:3]}")
    if statuses.get("pending", 0):
        failures.append(f"backlog not drained: {statuses['pending']} pending after {drained_in:.0f} s")
    if late.rss_kib > early.rss_kib * 1.2 + 10_240:
        failures.append(f"memory grew: {early.rss_kib} KiB -> {late.rss_kib} KiB")
    if late.open_files > early.open_files + 5:
        failures.append(f"open files grew: {early.open_files} -> {late.open_files}")
    if server_errors:
        failures.append(f"{len(server_errors)} tracebacks in the server log")

    print(f"requests: {total} ({total / args.seconds:.0f}/s), transport errors: {tally.transport_errors}")
    for (kind, status), count in sorted(tally.statuses.items()):
        print(f"  {kind:12} {status}  {count}")
    print(
        f"acknowledged: {len(tally.acknowledged)}, stored for acme: {len(ids)}, lost: {len(lost)}, "
        f"unacknowledged extras: {len(extra)}, duplicated keys: {len(duplicated)}"
    )
    print(f"stored by status: {dict(statuses)}; backlog drained in {drained_in:.1f} s")
    print(
        f"server RSS: {early.rss_kib / 1024:.1f} MiB at {early.at:.0f} s -> {late.rss_kib / 1024:.1f} MiB at "
        f"{late.at:.0f} s (peak {max(s.rss_kib for s in samples) / 1024:.1f} MiB); open files: "
        f"{early.open_files} -> {late.open_files} (peak {max(s.open_files for s in samples)})"
    )
    print("soak: " + ("FAILED: " + "; ".join(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
