"""`make bench`: how many events per second each generated server takes, against the framework's ceiling.

In one run, wrk (pinned to CPU 1, 64 connections) drives each target (pinned to CPU 0):

  (a) bench/bare_app.py: Starlette under the same uvicorn settings, parsing the body, constant 202;
  (b) each generated server on SQLite (WAL, synchronous=FULL, committed before the 2xx), then on
      PostgreSQL (skipped, with the reason, when INGESTSPEC_TEST_PG is not set), as users start it:
      access log on, metrics on, its worker processing what is ingested;
  (c) the same with 2 (and, on a machine with more CPUs, N) server processes: the scaling;
  (d) each generated server on SQLite, one process, without its access log and worker: the ingest
      path alone, CPU per request on the event loop and on the other threads (the SQLite writer),
      against what 0.6 of the ceiling's rate would leave (the budget table).

What is sent comes from each spec (bench/load.py); every target gets a warm-up, then a measured run,
then the store check (every 2xx stored) and the drain (backlog left when the load stopped, time to
process it). The whole list is run `--rounds` times, each target on a new store each round, and each
target's best round is reported (bench/rounds.py), with the spread of its rounds. Then validation
cost per event, generation time and the contract suite's wall time.
Writes bench/results/latest.json (and a timestamped copy), latest.md (the tables) and latest.svg.

    .venv/bin/python bench/run.py [--rounds 3] [--duration 6] [--warmup 2] [--workers 1 2]
        [--no-budget] [--skip-extras]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from bench import extras, rounds, variants  # noqa: E402
from bench.load import Load, load_for  # noqa: E402
from bench.machine import cpus, ensure_wrk, log, pinning  # noqa: E402
from bench.report import CEILING, print_report, set_ratios, table, write_picture  # noqa: E402
from bench.throughput import ALONE, Outcome, Target, measure, server_command  # noqa: E402
from tests.servers import REPO, drop_postgres_schema, postgres_schema  # noqa: E402

CONFIG = REPO / "examples" / "config.yaml"
RESULTS = REPO / "bench" / "results"
KEY = "be_acme_test_key"  # the acme project's key in examples/config.yaml
APIS = ("arsel", "sendrealm")
# The ingest path alone: each server on SQLite with one process, its access log and its worker
# switched off. Against the ceiling, what storing an event durably costs before any extra (the
# budget table); the parts' single costs are smaller than one run's noise, so they are left to
# alternating A/B runs (docs/performance.md, "Where a request's time goes").
ALONE_OPTIONS = ("--no-access-log",)  # and no worker


def generated(api: str) -> bool:
    return (REPO / "generated_server" / api / "app.py").exists()


def targets(
    args: argparse.Namespace, loads: dict[str, Load], store_dir: Path, pg: str | None
) -> list[Target]:
    """The ceiling, each API on each store with each process count, the ceiling again."""
    first = next(iter(loads.values()))
    bare = [sys.executable, str(REPO / "bench" / "bare_app.py"), "--log-level", "warning"]
    chosen = [Target(CEILING, first, bare)]
    stores = ["sqlite"] + (["postgresql"] if pg else [])
    for processes in args.workers:
        for store in stores:
            for api, load in loads.items():
                if store == "sqlite":
                    url = f"sqlite:///{store_dir / f'{api}-{processes}.db'}"
                else:
                    assert pg is not None
                    url = postgres_schema(pg, "bench")
                name = f"{api} {store}" + (f" ×{processes}" if processes > 1 else "")
                worker = not args.no_worker
                command = server_command(api, CONFIG, url, processes, worker)
                chosen.append(Target(name, load, command, url, processes, store, worker=worker))
                if processes == 1 and store == "sqlite" and not args.no_budget and not args.no_worker:
                    chosen.append(alone(api, load, store_dir))
    chosen += features(args, loads, store_dir)
    # The ceiling once more at the end: on a shared machine either run may be the disturbed one.
    chosen.append(Target(CEILING + " again", first, bare))
    return chosen


def features(args: argparse.Namespace, loads: dict[str, Load], store_dir: Path) -> list[Target]:
    """What a feature costs where it is used (bench/variants.py): a corpus batch of mixed items,
    the rate limiter, the pre-auth cap; and the shipped servers as generated at --compare."""
    packages = store_dir / "packages"
    sys.path.insert(0, str(packages))  # the store checks read each store with its package's module
    chosen = []
    if not args.no_features:
        first = next(iter(loads))
        chosen.append(variants.corpus_batch(store_dir, packages))
        chosen.append(variants.rate_limited(first, store_dir, packages, CONFIG, ALONE_OPTIONS))
        chosen.append(variants.preauth_refusals(store_dir, packages, ALONE_OPTIONS))
    for revision in args.compare:
        chosen += [
            variants.at_commit(api, revision, store_dir, packages, CONFIG, ALONE_OPTIONS) for api in loads
        ]
    return chosen


def alone(api: str, load: Load, store_dir: Path) -> Target:
    """The API's ingest path alone on SQLite (ALONE)."""
    url = f"sqlite:///{store_dir / f'{api}-alone.db'}"
    command = server_command(api, CONFIG, url, 1, False, ALONE_OPTIONS)
    return Target(f"{api} sqlite, {ALONE}", load, command, url, 1, "sqlite", ALONE, worker=False)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times each target is measured, interleaved with the others; its best counts (default 3)",
    )
    parser.add_argument("--duration", type=float, default=6, help="measured seconds per round (default 6)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per round (default 2)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (all on the load CPU)")
    parser.add_argument("--apis", nargs="+", default=list(APIS), choices=list(APIS))
    default_workers = sorted({1, 2, cpus()})
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=default_workers,
        help=f"server process counts to measure (default {' '.join(map(str, default_workers))})",
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="run the servers without their processing worker"
    )
    parser.add_argument(
        "--no-budget",
        action="store_true",
        help="skip the runs of the ingest path alone (no access log, no worker)",
    )
    parser.add_argument(
        "--no-features",
        action="store_true",
        help="skip the corpus batch, rate limiter and pre-auth cap targets (bench/variants.py)",
    )
    parser.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="REV",
        help="also run the shipped servers' ingest path alone as generated at these commits",
    )
    parser.add_argument(
        "--skip-extras",
        action="store_true",
        help="only the load runs: no validation, generation or contract timings",
    )
    return parser.parse_args(argv)


def previous_rates(latest: Path) -> dict[str, float]:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return {
            t["name"]: t["events_per_s"]
            for t in json.loads(latest.read_text())["targets"]
            if not t.get("skipped")
        }
    return {}


def run_extras(apis: list[str], work: Path) -> dict[str, Any]:
    log("bench: validation micro-benchmark ...")
    found: dict[str, Any] = {"validation": extras.validation_costs(CONFIG)}
    log("bench: generation time ...")
    found["generation_s"] = extras.generation_times(apis)
    log("bench: contract suite ...")
    found["contract"] = extras.contract_time(apis, CONFIG, work)
    return found


def print_extras(found: dict[str, Any]) -> None:
    validation = found["validation"]
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
    gen = found["generation_s"]
    print(
        "generation: "
        + ", ".join(f"{api} {v} s" if isinstance(v, float) else f"{api} {v}" for api, v in gen.items())
    )
    contract = found["contract"]
    print(
        "contract suite (default settings, SQLite): "
        + ", ".join(
            f"{api} {v['seconds']} s (exit {v['exit']})" if "seconds" in v else f"{api} {v['skipped']}"
            for api, v in contract.items()
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    pg = os.environ.get("INGESTSPEC_TEST_PG") or None
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    previous = previous_rates(latest)
    # SQLite stores go on the checkout's disk (var/ is ignored): /tmp could be a tmpfs, where
    # synchronous=FULL would cost nothing and the figure would flatter.
    (REPO / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=REPO / "var"))
    apis = [api for api in args.apis if generated(api)]
    skipped = [
        Outcome(f"{api} (any store)", skipped=f"generated_server/{api} is not generated")
        for api in args.apis
        if api not in apis
    ]
    if not pg:
        skipped.append(Outcome("postgresql", skipped="no PostgreSQL: INGESTSPEC_TEST_PG is not set"))
    loads: dict[str, Load] = {}
    for api in apis:
        try:
            loads[api] = load_for(api, REPO / "generated_server" / api, KEY)
        except ValueError as exc:  # e.g. no documented example to send: say so, measure the others
            skipped.append(Outcome(f"{api} (any store)", skipped=str(exc)))
    if not loads:
        raise SystemExit(f"bench: nothing to load: {'; '.join(str(o.skipped) for o in skipped)}")
    chosen = targets(args, loads, work, pg)
    log(
        f"bench: {len(chosen)} targets × {args.rounds} rounds, {args.connections} connections, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s each; {pinning()}; stores in {work}"
    )
    measured: list[list[Outcome]] = [[] for _ in chosen]
    stores = [target.db_url for target in chosen]
    try:
        for number in range(args.rounds):
            for index, target in enumerate(chosen):
                log(f"bench: round {number + 1} of {args.rounds}: {target.name} ...")
                plans = work / "plans" / f"{number}-{index}"
                plans.mkdir(parents=True)
                try:
                    target = rounds.for_round(target, number, pg)
                    stores.append(target.db_url)
                    measured[index].append(measure(wrk, target, args, target.load.write(plans), work))
                except RuntimeError as exc:
                    measured[index].append(Outcome(target.name, skipped=f"failed: {str(exc)[-500:]}"))
    finally:
        if pg:
            for url in set(stores):
                if url and url.startswith("postgresql"):
                    drop_postgres_schema(pg, url)
    outcomes = [rounds.best(each) for each in measured]
    set_ratios(outcomes)
    outcomes += skipped
    found = {} if args.skip_extras else run_extras(apis, work)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    headline = (
        f"make bench at {commit.stdout.strip()}, {when}: {args.connections} connections, best of "
        f"{args.rounds} rounds of {args.duration:g} s after {args.warmup:g} s warm-up; {pinning()}"
    )
    print()
    print(headline)
    print_report(outcomes, previous)
    if found:
        print()
        print_extras(found)
    report = {
        "when": when,
        "machine": {
            "cpus": cpus(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "commit": commit.stdout.strip(),
        },
        "settings": dict(vars(args)) | {"pinning": pinning(), "tool": "wrk"},
        "requests": {api: asdict(load) for api, load in loads.items()},
        "targets": [asdict(o) for o in outcomes],
        **found,
    }
    text = json.dumps(report, indent=2, default=str)
    latest.write_text(text)
    (RESULTS / f"{when.replace(':', '')}.json").write_text(text)
    (RESULTS / "latest.md").write_text("\n".join([headline, "", *table(outcomes)]) + "\n")
    write_picture(outcomes, headline, RESULTS / "latest.svg")
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten: {latest.relative_to(REPO)}, latest.md, latest.svg")
    failed = [
        o.name for o in outcomes if o.verified is False or (not o.skipped and not o.refused and o.non_2xx)
    ]
    if failed:
        print(f"bench: FAILED for {', '.join(failed)}: an accepted event is missing or requests were refused")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
