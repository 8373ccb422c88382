"""`make bench`: how many events per second each generated server takes, against the framework's ceiling.

In one run, wrk (pinned to CPU 1, 64 connections) drives each target (pinned to CPU 0):

  (a) bench/bare_app.py: Starlette under the same uvicorn settings, parsing the body, constant 202;
  (b) each generated server on SQLite (WAL, synchronous=FULL, committed before the 2xx);
  (c) each generated server on PostgreSQL (skipped, with the reason, when there is none).

Each target gets a warm-up, then a measured run. Afterwards the store is read back with the
generated `storage` module: every 2xx wrk saw must be stored (nothing accepted is lost). Then it
measures validation cost per event, generation time for both specs and the contract suite's wall
time, prints a table, and writes bench/results/latest.json (and a timestamped copy) to compare runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))  # run as a script: the generated servers are imported from the checkout

PYTHON = sys.executable
CONFIG = REPO / "examples" / "config.yaml"
LUA = BENCH / "wrk" / "ingest.lua"
RESULTS = BENCH / "results"
PROJECT = "acme"  # the project whose key (be_acme_test_key) the wrk script sends with
APIS = {"arsel": "/v1/events/send", "sendrealm": "/events"}
SERVER_CPU, LOAD_CPU = "0", "1"
CEILING = "bare starlette"  # the target every ratio is taken against (its better run)


@dataclass
class Target:
    """One server to load: how to start it, where to post, and the store to read back."""

    name: str
    api: str  # which body the wrk script sends
    command: list[str]
    path: str
    db_url: str | None = None  # None: the bare ceiling, which stores nothing


@dataclass
class Outcome:
    """What wrk measured for one target, and whether the store agrees."""

    name: str
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
    acknowledged: int | None = None  # 2xx wrk saw over warm-up and measured run
    in_flight: int | None = None  # sent but unanswered when wrk stopped: may be stored, need not be
    verified: bool | None = None
    loadavg_before: float = 0.0
    server_cpu_pct: float = 0.0  # the server process's CPU use during the measured run (100 = one CPU)
    server_cpu_us_per_request: float = 0.0
    load_cpu_pct: float = 0.0  # wrk's
    others_cpu_pct: dict[str, float] = field(default_factory=dict)  # other processes', per CPU
    worker: dict[str, float] = field(default_factory=dict)  # accepted vs processed, from /metrics
    skipped: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- tools ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed when missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench: wrk is not installed and we are not root; install Debian's 'wrk' package")
    log("bench: installing wrk with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is still missing after apt-get install")
    return found


PRIORITY = -10  # nice value for server and wrk when we may raise priority: other work yields to them


def pinned(cpu: str, command: list[str]) -> list[str]:
    """The command on its own CPU and, as root, ahead of other processes (both tools exec: same pid)."""
    # On a one-CPU machine pinning both to different CPUs is impossible: run unpinned and say so.
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        command = ["taskset", "-c", cpu, *command]
    if os.geteuid() == 0 and shutil.which("nice"):
        command = ["nice", "-n", str(PRIORITY), *command]
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loadavg() -> float:
    with contextlib.suppress(OSError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return 0.0


def fresh_postgres_url(admin: str) -> str:
    """A URL whose search_path is a new, empty schema (as tests/conftest.py does)."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in admin else "?"
    return f"{admin}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(admin: str, db_url: str) -> None:
    import psycopg

    schema = db_url.rsplit("%3D", 1)[-1]
    with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


# --- CPU accounting ---------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_busy() -> dict[str, tuple[float, float]]:
    """Per CPU: (busy, total) seconds since boot, from /proc/stat."""
    result = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) / TICKS for v in values[:8])
            busy = user + nice + system + irq + softirq + steal
            result[name[3:]] = (busy, busy + idle + iowait)
    return result


# --- one target -------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(target: Target, port: int, log_dir: Path) -> Iterator[tuple[str, int]]:
    """The target's process on 127.0.0.1:port, pinned to the server CPU; yields its root URL and pid."""
    log_path = log_dir / f"{target.name.replace(' ', '_').replace('/', '_')}.log"
    command = pinned(SERVER_CPU, [*target.command, "--port", str(port)])
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target.name} exited with {process.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{target.name} did not answer /healthz within 30 s:\n{log_path.read_text()}"
                )
            time.sleep(0.05)
        yield root, process.pid  # taskset execs the server: the pid is the server's own
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def run_wrk(
    wrk: str, url: str, api: str, run_id: str, args: argparse.Namespace, seconds: float
) -> dict[str, Any]:
    command = pinned(
        LOAD_CPU,
        [
            wrk,
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            api,
            run_id,
        ],
    )
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return data
    raise RuntimeError(f"wrk printed no result (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def worker_progress(root: str) -> dict[str, float]:
    """The server's counters right after the load: did processing keep up with ingest?"""
    wanted = ("ingest_events_accepted_total", "ingest_events_processed_total")
    counters: dict[str, float] = {}
    with contextlib.suppress(httpx.HTTPError, ValueError):
        for line in httpx.get(f"{root}/metrics", timeout=5).text.splitlines():
            name, _, value = line.partition(" ")
            if name in wanted:
                counters[name.removeprefix("ingest_events_").removesuffix("_total")] = float(value)
    return counters


def count_stored(api: str, db_url: str) -> int:
    """Events of the benchmark's project in the store, read with the generated storage module."""
    storage_module = importlib.import_module(f"generated_server.{api}.storage")

    async def count() -> int:
        storage = storage_module.open_storage(db_url)
        await storage.start()
        try:
            return int(await storage.count(PROJECT))
        finally:
            await storage.close()

    return asyncio.run(count())


def measure(wrk: str, target: Target, args: argparse.Namespace, log_dir: Path) -> Outcome:
    outcome = Outcome(target.name)
    run_id = uuid.uuid4().hex[:8]
    with serving(target, free_port(), log_dir) as (root, pid):
        url = root + target.path
        warm = run_wrk(wrk, url, target.api, f"{run_id}w", args, args.warmup)
        time.sleep(0.5)  # let the warm-up's stragglers and the worker settle
        outcome.loadavg_before = loadavg()
        server_before, wrk_before, cpus_before = process_cpu(pid), children_cpu(), cpu_busy()
        data = run_wrk(wrk, url, target.api, f"{run_id}m", args, args.duration)
        server_cpu, wrk_cpu, cpus_after = (
            process_cpu(pid) - server_before,
            children_cpu() - wrk_before,
            cpu_busy(),
        )
        if target.db_url is not None:
            outcome.worker = worker_progress(root)
    seconds = data["duration_us"] / 1e6
    outcome.server_cpu_pct = 100 * server_cpu / seconds
    outcome.server_cpu_us_per_request = 1e6 * server_cpu / max(data["requests"], 1)
    outcome.load_cpu_pct = 100 * wrk_cpu / seconds
    # What else ran on the two CPUs meanwhile (other processes on a shared machine): if this is
    # large, the figures are disturbed and say so.
    busy = {cpu: cpus_after[cpu][0] - cpus_before[cpu][0] for cpu in cpus_after}
    ours = {SERVER_CPU: server_cpu, LOAD_CPU: wrk_cpu}
    outcome.others_cpu_pct = {
        cpu: round(max(0.0, 100 * (busy[cpu] - ours.get(cpu, 0.0)) / seconds), 1) for cpu in sorted(busy)
    }
    latency = data["latency_us"]
    outcome.raw = {"warmup": warm, "measured": data}
    outcome.ok = data["ok"]
    outcome.non_2xx = data["client_errors"] + data["server_errors"] + data["other"]
    outcome.socket_errors = sum(v for k, v in data["errors"].items() if k != "status")
    outcome.events_per_s = data["ok"] / seconds
    outcome.p50_ms = latency["p50"] / 1000
    outcome.p99_ms = latency["p99"] / 1000
    outcome.p999_ms = latency["p999"] / 1000
    outcome.max_ms = latency["max"] / 1000
    if target.db_url is not None:
        # The server has been stopped gracefully: whatever it committed is there to count.
        outcome.stored = count_stored(target.api, target.db_url)
        outcome.acknowledged = warm["ok"] + data["ok"]
        answered = warm["requests"] + data["requests"]
        outcome.in_flight = warm["sent"] + data["sent"] - answered
        # Every 2xx must be stored; requests cut off by wrk's stop may or may not have been.
        outcome.verified = outcome.acknowledged <= outcome.stored <= outcome.acknowledged + outcome.in_flight
    return outcome


# --- the figures besides throughput ------------------------------------------------------------


def per_call_us(function: Callable[[], object]) -> float:
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def validation_costs() -> dict[str, Any]:
    """µs per event for the acme `order.completed` definition, and for Sendrealm's request envelope."""
    import jsonschema
    import jsonschema_rs
    import yaml

    config = yaml.safe_load(CONFIG.read_text())
    schema = next(p for p in config["projects"] if p["id"] == PROJECT)["events"]["order.completed"]["schema"]
    payload = {"order_id": "ord_123", "total": 4900, "currency": "EUR"}
    envelope = {
        "event": "order.completed",
        "contact_id": "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda",
        "email": "jsmith@example.com",
        "payload": payload,
        "occurred_at": "2026-06-08T14:15:00.000Z",
        "idempotency_key": "evt_order_completed_ord_123",
    }
    results: dict[str, Any] = {"definition": "acme order.completed", "payload": payload}
    rs = jsonschema_rs.validator_for(schema, validate_formats=True)
    py = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert rs.is_valid(payload) and py.is_valid(payload)
    results["payload_us"] = {
        "jsonschema_rs": per_call_us(lambda: rs.is_valid(payload)),
        "jsonschema": per_call_us(lambda: py.is_valid(payload)),
    }
    try:
        request_schema = importlib.import_module("generated_server.sendrealm.schema").REQUEST_SCHEMA
    except ImportError as exc:
        results["envelope_us"] = f"skipped: {exc}"
        return results
    rs_env = jsonschema_rs.validator_for(request_schema, validate_formats=True)
    py_env = jsonschema.Draft202012Validator(
        request_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    results["envelope_us"] = {
        "jsonschema_rs": per_call_us(lambda: rs_env.is_valid(envelope)),
        "jsonschema": per_call_us(lambda: py_env.is_valid(envelope)),
    }
    return results


def generation_times() -> dict[str, float | str]:
    """Wall time of `ingestspec generate SPEC --out TMP` for each spec (a fresh process each)."""
    ingestspec = Path(PYTHON).parent / "ingestspec"
    times: dict[str, float | str] = {}
    for api in APIS:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = subprocess.run(
                [str(ingestspec), "generate", str(REPO / "openapi" / f"{api}.yaml"), "--out", f"{tmp}/{api}"],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            elapsed = time.perf_counter() - start
        last_line = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1][:300]
        times[api] = round(elapsed, 2) if result.returncode == 0 else f"failed: {last_line}"
    return times


def contract_time(log_dir: Path) -> dict[str, Any]:
    """Wall time of the contract suite at its default settings against each generated server on SQLite."""
    ingestspec = str(Path(PYTHON).parent / "ingestspec")
    probe = subprocess.run([ingestspec, "contract", "--help"], capture_output=True, text=True, cwd=REPO)
    if probe.returncode != 0:
        return {"skipped": "`ingestspec contract` does not exist yet"}
    times: dict[str, Any] = {}
    for api, path in APIS.items():
        if not (REPO / "generated_server" / api / "app.py").exists():
            times[api] = {"skipped": f"generated_server/{api} is not generated yet"}
            continue
        db = log_dir / f"contract-{api}.db"
        target = Target(
            f"contract {api}", api, server_command(api, f"sqlite:///{db}"), path, f"sqlite:///{db}"
        )
        try:
            with serving(target, free_port(), log_dir) as (root, _):
                base = root + path.removesuffix("/events/send").removesuffix("/events")
                # Two keys of two projects, so the isolation checks run too: the suite's full default run.
                command = [
                    ingestspec,
                    "contract",
                    api,
                    "--base-url",
                    base,
                    "--api-key",
                    "be_acme_test_key",
                    "--api-key",
                    "be_globex_test_key",
                    "--config",
                    str(CONFIG),
                ]
                start = time.perf_counter()
                result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
                elapsed = time.perf_counter() - start
        except RuntimeError as exc:  # the server did not start: say so, keep the other figures
            times[api] = {"skipped": f"server failed: {str(exc)[-300:]}"}
            continue
        times[api] = {
            "seconds": round(elapsed, 1),
            "exit": result.returncode,
            "command": " ".join(command[1:]),
        }
        if result.returncode not in (0, 1):
            times[api]["output"] = (result.stdout + result.stderr)[-400:]
    return times


# --- the run ----------------------------------------------------------------------------------


def server_command(api: str, db_url: str, worker: bool = True) -> list[str]:
    command = [
        PYTHON,
        "-m",
        f"generated_server.{api}",
        "--config",
        str(CONFIG),
        "--db",
        db_url,
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return command if worker else [*command, "--no-worker"]


def targets(
    args: argparse.Namespace, store_dir: Path, pg_admin: str | None
) -> tuple[list[Target], list[Outcome]]:
    bare = [PYTHON, str(BENCH / "bare_app.py"), "--log-level", "warning"]
    chosen = [Target(CEILING, "bare", bare, "/events")]
    skipped: list[Outcome] = []
    for api in args.apis:
        if not (REPO / "generated_server" / api / "app.py").exists():
            skipped.append(
                Outcome(f"{api} (any store)", skipped=f"generated_server/{api} is not generated yet")
            )
            continue
        url = f"sqlite:///{store_dir / f'{api}.db'}"
        chosen.append(
            Target(f"{api} sqlite", api, server_command(api, url, not args.no_worker), APIS[api], url)
        )
    for api in args.apis:
        if not (REPO / "generated_server" / api / "app.py").exists():
            continue
        if pg_admin is None:
            skipped.append(
                Outcome(f"{api} postgresql", skipped="no PostgreSQL: INGESTSPEC_TEST_PG is not set")
            )
            continue
        url = fresh_postgres_url(pg_admin)
        chosen.append(
            Target(f"{api} postgresql", api, server_command(api, url, not args.no_worker), APIS[api], url)
        )
    # The ceiling once more at the end: on a shared machine either run may be the disturbed one.
    chosen.append(Target(CEILING + " again", "bare", bare, "/events"))
    return chosen, skipped


def print_table(outcomes: Sequence[Outcome], previous: dict[str, float]) -> None:
    head = (
        f"{'target':<22}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>7}"
        f"{'srv CPU':>9}{'CPU µs/req':>12}{'CPU ratio':>11}{'others':>8}"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        if o.skipped:
            print(f"{o.name:<22}  skipped: {o.skipped}")
            continue
        ratio = f"{o.ratio:.2f}" if o.ratio is not None else "-"
        cpu_ratio = f"{o.cpu_ratio:.2f}" if o.cpu_ratio is not None else "-"
        others = max(o.others_cpu_pct.values(), default=0.0)
        before = previous.get(o.name)
        trend = f"   (last run {before:,.0f}/s)" if before else ""
        print(
            f"{o.name:<22}{o.events_per_s:>10,.0f}{o.p50_ms:>9.2f}{o.p99_ms:>9.2f}{ratio:>7}"
            f"{o.server_cpu_pct:>8.0f}%{o.server_cpu_us_per_request:>12.0f}{cpu_ratio:>11}{others:>7.0f}%{trend}"
        )
    print(
        "ratio: events/s over the better bare-ceiling run's; CPU ratio: the ceiling's server CPU µs per\n"
        "request over the target's, which holds when other processes take CPU time from the run; others:\n"
        "the busiest benchmark CPU's time used by other processes (PostgreSQL's included) during the run"
    )
    print()
    print("checks after each run (every 2xx must be in the store; requests wrk cut off at its stop may be):")
    for o in outcomes:
        if o.skipped or o.verified is None:
            continue
        if o.verified:
            verdict = "ok"
        elif (o.stored or 0) < (o.acknowledged or 0):
            verdict = "LOST EVENTS"
        else:
            verdict = "MISMATCH"
        worker = ""
        if o.worker:
            processed, accepted = o.worker.get("processed", 0), o.worker.get("accepted", 0)
            worker = f"; worker processed {processed:,.0f} of {accepted:,.0f}"
        print(
            f"  {o.name:<22}{verdict}: {o.acknowledged:,} acknowledged, {o.stored:,} stored, "
            f"{o.in_flight} cut off; {o.non_2xx} non-2xx, {o.socket_errors} socket errors{worker}"
        )
    noisy = [o.name for o in outcomes if not o.skipped and max(o.others_cpu_pct.values(), default=0) > 10]
    if noisy:
        print(
            f"  NOTE: other processes (PostgreSQL's included) used over 10% of a benchmark CPU during: "
            f"{', '.join(noisy)}; see others_cpu_pct per CPU in the JSON"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per target (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per target (default 3)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (all on the load CPU)")
    parser.add_argument("--apis", nargs="+", default=list(APIS), choices=list(APIS))
    parser.add_argument(
        "--no-worker", action="store_true", help="run the servers without their processing worker"
    )
    parser.add_argument(
        "--skip-extras",
        action="store_true",
        help="only the load runs: no validation, generation or contract timings",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    pg_admin = os.environ.get("INGESTSPEC_TEST_PG") or None
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    previous: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, KeyError):
        previous = {
            t["name"]: t["events_per_s"]
            for t in json.loads(latest.read_text())["targets"]
            if not t.get("skipped")
        }
    # SQLite stores go on the checkout's disk (var/ is ignored): /tmp could be a tmpfs, where
    # synchronous=FULL would cost nothing and the figure would flatter.
    (REPO / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=REPO / "var"))
    chosen, skipped = targets(args, work, pg_admin)
    pinning = (
        "unpinned (fewer than 2 CPUs)"
        if (os.cpu_count() or 1) < 2
        else f"server on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}"
    )
    if os.geteuid() == 0:
        pinning += f", both at nice {PRIORITY}"
    log(
        f"bench: {len(chosen)} targets, {args.connections} connections, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s each; {pinning}; stores in {work}"
    )
    outcomes: list[Outcome] = []
    try:
        for target in chosen:
            log(f"bench: {target.name} ...")
            try:
                outcomes.append(measure(wrk, target, args, work))
            except RuntimeError as exc:
                outcomes.append(Outcome(target.name, skipped=f"failed: {str(exc)[-500:]}"))
    finally:
        if pg_admin:
            for target in chosen:
                if target.db_url and target.db_url.startswith("postgresql"):
                    drop_postgres_schema(pg_admin, target.db_url)
    ceilings = [o for o in outcomes if o.name.startswith(CEILING) and not o.skipped]
    ceiling = max((o.events_per_s for o in ceilings), default=0.0)
    ceiling_cpu = min((o.server_cpu_us_per_request for o in ceilings), default=0.0)
    for o in outcomes:
        if ceiling and not o.skipped:
            o.ratio = o.events_per_s / ceiling
        if ceiling_cpu and not o.skipped and o.server_cpu_us_per_request:
            o.cpu_ratio = ceiling_cpu / o.server_cpu_us_per_request
    outcomes += skipped

    extras: dict[str, Any] = {}
    if not args.skip_extras:
        log("bench: validation micro-benchmark ...")
        extras["validation"] = validation_costs()
        log("bench: generation time ...")
        extras["generation_s"] = generation_times()
        log("bench: contract suite ...")
        extras["contract"] = contract_time(work)

    print()
    print(
        f"ingest throughput: {args.connections} connections, {args.duration:g} s measured after "
        f"{args.warmup:g} s warm-up; {pinning}; load average before runs "
        f"{', '.join(f'{o.loadavg_before:.2f}' for o in outcomes if not o.skipped)}"
    )
    print_table(outcomes, previous)
    if extras:
        print()
        validation = extras["validation"]
        p = validation["payload_us"]
        print(
            f"validation, {validation['definition']} payload: jsonschema-rs {p['jsonschema_rs']:.2f} µs, "
            f"python jsonschema {p['jsonschema']:.1f} µs per event"
        )
        e = validation["envelope_us"]
        if isinstance(e, dict):
            print(
                "validation, Sendrealm request envelope (formats on): "
                f"jsonschema-rs {e['jsonschema_rs']:.2f} µs, "
                f"python jsonschema {e['jsonschema']:.1f} µs per event"
            )
        gen = extras["generation_s"]
        print(
            "generation: "
            + ", ".join(f"{api} {v} s" if isinstance(v, float) else f"{api} {v}" for api, v in gen.items())
        )
        contract = extras["contract"]
        if "skipped" in contract:
            print(f"contract suite: skipped: {contract['skipped']}")
        else:
            print(
                "contract suite (default settings, SQLite): "
                + ", ".join(
                    f"{api} {v['seconds']} s (exit {v['exit']})"
                    if "seconds" in v
                    else f"{api} {v['skipped']}"
                    for api, v in contract.items()
                )
            )

    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
            ).stdout.strip(),
        },
        "settings": {k: v for k, v in vars(args).items()} | {"pinning": pinning, "tool": "wrk"},
        "targets": [asdict(o) for o in outcomes],
        **extras,
    }
    text = json.dumps(report, indent=2, default=str)
    latest.write_text(text)
    (RESULTS / f"{report['when'].replace(':', '')}.json").write_text(text)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten: {latest.relative_to(REPO)}")
    failed = [o.name for o in outcomes if o.verified is False or (not o.skipped and o.non_2xx)]
    if failed:
        print(f"bench: FAILED for {', '.join(failed)}: an accepted event is missing or requests were refused")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
