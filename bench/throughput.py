"""Load one target with wrk and read its figures: rate, latency, CPU, the store check, the drain.

A target is a server command (the bare ceiling, or a generated server on a store with N processes)
and the request template it is sent (load.py). After warm-up and the measured run, the store is read
back with the generated package's own `storage` module: every 2xx must be stored. Meanwhile the
processing backlog is read from the same store: what the worker processed during the load, what
was left when it stopped, and how long it took to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.load import Load
from bench.machine import (
    LOAD_CPU,
    children_cpu,
    cpu_busy,
    descendants,
    loadavg,
    pinned,
    server_cpus,
    thread_cpu,
    tree_cpu,
)
from tests.servers import REPO, RunningServer, serving

LUA = REPO / "bench" / "wrk" / "ingest.lua"
PROJECT = "acme"  # the project whose key the requests carry
DRAIN_TIMEOUT = 120.0
# The variant of a server on SQLite with one process, its access log and its worker switched off.
ALONE = "ingest path alone"


@dataclass
class Target:
    """One server to load: how to start it, what to send, and the store to read back."""

    name: str
    load: Load
    command: list[str]
    db_url: str | None = None  # None: the bare ceiling, which stores nothing
    processes: int = 1
    store: str = ""  # "sqlite" | "postgresql" | "" for the ceiling
    variant: str = ""  # parts switched off to see what they cost (ALONE, ...); "" as deployed
    worker: bool = True  # processing on: the drain is measured
    package: str = ""  # the generated package it runs (default generated_server.<api>)
    env: dict[str, str] | None = None  # its environment (a PYTHONPATH for a package outside the checkout)
    project: str = PROJECT  # the project whose key the requests carry
    refused: bool = False  # every request is meant to be refused (a cost of refusing): no store check

    @property
    def module(self) -> str:
        return self.package or f"generated_server.{self.load.api}"


@dataclass
class Outcome:
    """What wrk measured for one target, and whether the store agrees."""

    name: str
    api: str = ""
    store: str = ""
    processes: int = 1
    variant: str = ""
    events_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    ratio: float | None = None  # events/s over the bare ceiling's
    cpu_ratio: float | None = None  # the ceiling's CPU µs per request over this target's: robust to noise
    ok: int = 0  # 2xx in the measured run
    non_2xx: int = 0
    socket_errors: int = 0
    stored: int | None = None  # events in the store after warm-up and measured run
    acknowledged: int | None = None  # events of 2xx answers over preflight, warm-up and measured run
    in_flight: int | None = None  # sent but unanswered when wrk stopped: may be stored, need not be
    verified: bool | None = None
    loadavg_before: float = 0.0
    server_cpus: str = ""
    server_cpu_pct: float = 0.0  # the server's processes' CPU use during the measured run (100 = one CPU)
    server_cpu_us_per_request: float = 0.0
    # One process: its CPU µs per request on the event loop's thread and on its other threads
    # (the SQLite writer, the log flush), which share the server's CPU.
    threads_us_per_request: dict[str, float] = field(default_factory=dict)
    load_cpu_pct: float = 0.0  # wrk's
    others_cpu_pct: dict[str, float] = field(default_factory=dict)  # other processes', per CPU
    drain: dict[str, float] = field(default_factory=dict)  # ingest vs processing, from the store
    refused: bool = False  # Target.refused: its requests were meant to be refused
    events_per_request: int = 1
    skipped: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # Every round's rate and CPU per request (bench/rounds.py); the figures above are the best round's.
    rounds: list[dict[str, float]] = field(default_factory=list)


class StoreProbe:
    """The target's store, opened with the generated package's storage module for the whole run."""

    def __init__(self, package: str, db_url: str, project: str = PROJECT) -> None:
        self.project = project
        self._loop = asyncio.new_event_loop()
        self._storage = importlib.import_module(f"{package}.storage").open_storage(db_url)
        self._loop.run_until_complete(self._storage.start())

    def pending(self) -> int:
        return int(self._loop.run_until_complete(self._storage.backlog())[0])

    def count(self) -> int:
        return int(self._loop.run_until_complete(self._storage.count(self.project)))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self._storage.close())
        self._loop.close()


def run_wrk(wrk: str, root: str, plan: Path, run_id: str, args: Any, seconds: float) -> dict[str, Any]:
    command = pinned(
        LOAD_CPU,
        [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--timeout", "10s"]
        + ["-s", str(LUA), root, "--", str(plan), run_id],
    )
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return data
    raise RuntimeError(f"wrk printed no result (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def preflight(server: RunningServer, load: Load, refused: bool = False) -> None:
    """One request by hand: a template the server refuses (or, for `refused`, accepts) would make
    every figure meaningless."""
    path, headers, body = load.sample(f"preflight-{uuid.uuid4().hex[:8]}")
    reply = httpx.request(load.method, server.root + path, headers=headers, content=body, timeout=10)
    if refused and reply.status_code < 400:
        raise RuntimeError(f"{load.api}: the request meant to be refused was answered {reply.status_code}")
    if not refused and reply.status_code >= 300:
        raise RuntimeError(
            f"{load.api}: the request template was refused: {reply.status_code} {reply.text[:300]}"
        )


def wait_drained(probe: StoreProbe, timeout: float = DRAIN_TIMEOUT) -> tuple[int, float]:
    """(backlog when the load stopped, seconds until it was processed; inf past the timeout)."""
    start = time.monotonic()
    left = backlog = probe.pending()
    while left:
        if time.monotonic() - start > timeout:
            return backlog, float("inf")
        time.sleep(0.05)
        left = probe.pending()
    return backlog, time.monotonic() - start


def measure(wrk: str, target: Target, args: Any, plan: Path, log_dir: Path) -> Outcome:
    outcome = Outcome(target.name, target.load.api, target.store, target.processes, target.variant)
    outcome.refused = target.refused
    outcome.events_per_request = target.load.events_per_request
    outcome.server_cpus = server_cpus(target.processes)
    run_id = uuid.uuid4().hex[:8]
    command = pinned(outcome.server_cpus, target.command)
    probe = None
    name = target.name.replace(" ", "_").replace("/", "_").replace("×", "x")
    with serving(command, log_dir, name, env=target.env) as server:
        preflight(server, target.load, target.refused)
        if target.db_url is not None and target.worker:
            probe = StoreProbe(target.module, target.db_url, target.project)
        try:
            warm = run_wrk(wrk, server.root, plan, f"{run_id}w", args, args.warmup)
            time.sleep(0.5)  # let the warm-up's stragglers settle
            if probe is not None:
                wait_drained(probe, 30)  # the measured run starts with an empty backlog
            outcome.loadavg_before = loadavg()
            pids = descendants(server.process.pid)
            threads_before = thread_cpu(server.process.pid)
            server_before, wrk_before, cpus_before = tree_cpu(pids), children_cpu(), cpu_busy()
            data = run_wrk(wrk, server.root, plan, f"{run_id}m", args, args.duration)
            server_after = tree_cpu(pids)
            threads_after = thread_cpu(server.process.pid)
            server_cpu = sum(server_after[p] - server_before[p] for p in pids)
            wrk_cpu, cpus_after = children_cpu() - wrk_before, cpu_busy()
            seconds = data["duration_us"] / 1e6
            if probe is not None:
                backlog, drain_s = wait_drained(probe)
                ingested = data["ok"] * target.load.events_per_request
                processed = max(ingested - backlog, 0)
                outcome.drain = {
                    "ingest_per_s": round(ingested / seconds, 1),
                    "processed_during_load_per_s": round(processed / seconds, 1),
                    "backlog_at_stop": backlog,
                    "drain_s": round(drain_s, 2),
                    "drain_per_s": round(backlog / drain_s, 1) if backlog and drain_s else 0.0,
                }
        finally:
            if probe is not None:
                probe.close()
    outcome.server_cpu_pct = 100 * server_cpu / seconds
    outcome.server_cpu_us_per_request = 1e6 * server_cpu / max(data["requests"], 1)
    if target.processes == 1:
        outcome.threads_us_per_request = split_by_thread(
            server.process.pid, threads_before, threads_after, data["requests"]
        )
    outcome.load_cpu_pct = 100 * wrk_cpu / seconds
    # What else ran on the CPUs meanwhile (other processes on a shared machine): if this is large,
    # the figures are disturbed and say so.
    busy = {cpu: cpus_after[cpu][0] - cpus_before[cpu][0] for cpu in cpus_after}
    ours = server_cpu + wrk_cpu
    spare = sum(busy.values()) - ours
    outcome.others_cpu_pct = {"all": round(max(0.0, 100 * spare / seconds), 1)}
    latency = data["latency_us"]
    outcome.raw = {"warmup": warm, "measured": data}
    outcome.ok = data["ok"]
    outcome.non_2xx = data["client_errors"] + data["server_errors"] + data["other"]
    outcome.socket_errors = sum(v for k, v in data["errors"].items() if k != "status")
    outcome.events_per_s = data["ok"] * target.load.events_per_request / seconds
    outcome.p50_ms = latency["p50"] / 1000
    outcome.p99_ms = latency["p99"] / 1000
    outcome.p999_ms = latency["p999"] / 1000
    outcome.max_ms = latency["max"] / 1000
    if target.db_url is not None and not target.refused:
        # The server has been stopped gracefully: whatever it committed is there to count.
        outcome.stored = count_stored(target.module, target.db_url, target.project)
        per = target.load.events_per_request
        outcome.acknowledged = (1 + warm["ok"] + data["ok"]) * per  # 1: the preflight request
        answered = warm["requests"] + data["requests"]
        outcome.in_flight = (warm["sent"] + data["sent"] - answered) * per
        # Every 2xx must be stored; requests cut off by wrk's stop may or may not have been.
        outcome.verified = outcome.acknowledged <= outcome.stored <= outcome.acknowledged + outcome.in_flight
    return outcome


def split_by_thread(
    pid: int, before: dict[int, float], after: dict[int, float], requests: int
) -> dict[str, float]:
    """CPU µs per request of the process's main thread (the event loop) and of its other threads."""
    used = {tid: seconds - before.get(tid, 0.0) for tid, seconds in after.items()}
    loop = used.pop(pid, 0.0)
    per = 1e6 / max(requests, 1)
    return {"event loop": round(loop * per, 1), "other threads": round(sum(used.values()) * per, 1)}


def count_stored(package: str, db_url: str, project: str = PROJECT) -> int:
    """Events of the benchmark's project in the store, read with the generated storage module."""
    probe = StoreProbe(package, db_url, project)
    try:
        return probe.count()
    finally:
        probe.close()


def server_command(
    api: str,
    config: Path,
    db_url: str,
    processes: int,
    worker: bool,
    options: Sequence[str] = (),
    package: str = "",
) -> list[str]:
    """The generated server as its users start it (access log on, default log level, N processes),
    unless `options` switch a part off. `package`: another generated package than generated_server.<api>."""
    module = package or f"generated_server.{api}"
    command = [sys.executable, "-m", module, "--config", str(config), "--db", db_url]
    if processes > 1:
        command += ["--workers", str(processes)]
    command += options
    return command if worker else [*command, "--no-worker"]
