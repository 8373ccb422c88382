"""Before and after, in process: a generated app's CPU per request at another commit against now.

    .venv/bin/python bench/ab.py [--api arsel] [--before HEAD] [--rounds 25] [--requests 1000]
                                 [--access-log]

On a shared machine wall-clock figures over HTTP move by tens of percent from one run to the next;
the app's own CPU in process, one request at a time, moves far less. Both apps (the package as
generated at `--before`, extracted with `git archive`, and the worktree's generated_server/<api>)
are driven directly through ASGI as `bench/stages.py` does, their storage stubbed out (no database:
what is left is the app's own code), in alternating rounds of `--requests` requests. Each side's
figure is its fastest round: what the code costs when nothing else took the CPU. With
`--access-log` the access line is formatted and queued too (to /dev/null), as deployed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from stages import CONFIG, call, request_for, store_nothing  # noqa: E402

WORK = REPO / "var" / "ab"


def at_commit(api: str, revision: str) -> str:
    """The module name of `api`'s package as generated at `revision` (extracted under var/ab)."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", revision], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()
    name = f"{api}_at_{short}"
    out = WORK / name
    if not out.exists():
        out.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", revision, f"generated_server/{api}"], capture_output=True, check=True, cwd=REPO
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out), "--strip-components=2"], input=archive, check=True)
    return name


def stubbed_app(package: str, folder: str, access_log: bool) -> Any:
    """The package's app with a storage that stores nothing: the app's own code path only."""
    create_app = importlib.import_module(f"{package}.app").create_app
    storage_module = importlib.import_module(f"{package}.storage")
    app = create_app(CONFIG, f"sqlite:///{folder}/{package}.db", worker=False, access_log=access_log)
    store_nothing(app.state.storage, storage_module)
    return app


def collector_as_deployed() -> None:
    """The garbage collector as a generated app's lifespan leaves it: start-up's objects frozen,
    young collections rare (the app's GC_YOUNG_THRESHOLD)."""
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])


async def one_round(app: Any, requests: list[Any]) -> float:
    """CPU µs per request over `requests`, one at a time."""
    start = time.process_time()
    for request in requests:
        await call(app, request)
    return (time.process_time() - start) / len(requests) * 1e6


async def run(api: str, before: str, rounds: int, n: int, access_log: bool) -> None:
    sys.path.insert(0, str(WORK))
    packages = {f"at {before}": at_commit(api, before), "now": f"generated_server.{api}"}
    # Each side's lines go to its own logs module's handler (log_fields takes its fast path only for
    # the handler class of its own module): the root logger's handler is swapped before each round.
    handlers: dict[str, list[logging.Handler]] = {label: [] for label in packages}
    if access_log:
        for label, package in packages.items():
            importlib.import_module(f"{package}.logs").configure()
            handlers[label] = list(logging.getLogger().handlers)
            handlers[label][0].setStream(open("/dev/null", "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    with tempfile.TemporaryDirectory(dir=REPO / "var") as folder:
        apps = {label: stubbed_app(package, folder, access_log) for label, package in packages.items()}
        requests = [request_for(api, i) for i in range(n)]
        for label, app in apps.items():  # warm-up
            logging.getLogger().handlers = handlers[label]
            for request in requests[:200]:
                assert await call(app, request) in (200, 202)
        collector_as_deployed()
        times: dict[str, list[float]] = {label: [] for label in apps}
        for turn in range(rounds):
            order = list(apps) if turn % 2 == 0 else list(reversed(apps))
            for label in order:
                logging.getLogger().handlers = handlers[label]
                times[label].append(await one_round(apps[label], requests))
    print(f"{api}, in process, storage stubbed, CPU µs per request ({rounds} rounds of {n}):")
    for label, figures in times.items():
        ordered = sorted(figures)
        print(f"  {label:<16} min {ordered[0]:6.1f}   median {ordered[len(ordered) // 2]:6.1f}")


def before_and_after_parser(description: str | None) -> argparse.ArgumentParser:
    """The options of a before-and-after comparison: which API, at which commit, how many requests."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", default="arsel", choices=("arsel", "sendrealm"))
    parser.add_argument("--before", default="HEAD")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--access-log", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = before_and_after_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    uvloop.run(run(args.api, args.before, args.rounds, args.requests, args.access_log))


if __name__ == "__main__":
    main()
