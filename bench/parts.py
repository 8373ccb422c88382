"""What the access line and processing add to a request, counted rather than timed.

    .venv/bin/python bench/parts.py [--api arsel] [--requests 1500]

`make bench`'s budget takes them as the CPU per request as deployed less the ingest path alone's:
two figures that a shared machine moves by tens of µs from one round to the next. Here the
generated package's app runs in process on a real SQLite file (synchronous=FULL, group commit),
its lifespan run as a server runs it (the worker started, the collector set), 64 clients over ASGI,
under valgrind, in four configurations: the ingest path alone, with the access line, with the
worker (its default handler), and as deployed. As in bench/instructions.py, each runs with
`--requests` requests and with three times as many, and the difference over the extra requests is
the cost of one: start-up and the lifespan's start and end cancel out. Every thread is counted,
the SQLite writer included; the worker's events are all handled before the lifespan ends.

Unlike bench/instructions.py's, these counts move with timing: how many rows a commit or a mark
carries depends on what the threads were doing. Quiet, a configuration repeats within about a
thousand instructions; on a busy machine the figures moved by up to 14k. Compare configurations
counted in one run, on a quiet machine.

Needs valgrind; each configuration takes about 30 s.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvloop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from instructions import executed  # noqa: E402
from stages import CONFIG, in_flight, request_for  # noqa: E402

# Each configuration: (access line, worker).
PARTS = {
    "ingest path alone": (False, False),
    "with the access line": (True, False),
    "with the worker": (False, True),
    "as deployed": (True, True),
}
CLIENTS = 64
WARM_UP = 300


async def drive(api: str, requests: int, access_log: bool, worker: bool) -> None:
    """The child's part: a warm-up, then `requests` requests, CLIENTS in flight, within the lifespan."""
    if access_log:
        importlib.import_module(f"generated_server.{api}.logs").configure()
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the lines are made and written, unread
    create_app = importlib.import_module(f"generated_server.{api}.app").create_app
    (REPO / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=REPO / "var") as folder:
        app = create_app(CONFIG, f"sqlite:///{folder}/parts.db", worker=worker, access_log=access_log)
        sample = [request_for(api, n) for n in range(WARM_UP + requests)]
        async with app.router.lifespan_context(app):
            await in_flight(app, sample[:WARM_UP], CLIENTS)
            await in_flight(app, sample[WARM_UP:], CLIENTS)


def per_request(api: str, requests: int, access_log: bool, worker: bool) -> float:
    def count(n: int) -> int:
        arguments = [__file__, "--child", "--api", api, "--requests", str(n)]
        arguments += ["--access-log"] * access_log + ["--worker"] * worker
        return executed(arguments, f"{api} {n}")

    return (count(3 * requests) - count(requests)) / (2 * requests)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", default="arsel", choices=("arsel", "sendrealm"))
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--access-log", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        uvloop.run(drive(args.api, args.requests, args.access_log, args.worker))
        return
    print(f"{args.api}, in process, real SQLite, {CLIENTS} clients: CPU instructions per request (valgrind)")
    alone = 0.0
    for label, (access_log, worker) in PARTS.items():
        figure = per_request(args.api, args.requests, access_log, worker)
        alone = alone or figure
        extra = f"   {figure - alone:>+9,.0f}" if figure != alone else ""
        print(f"  {label:<22} {figure:>9,.0f}{extra}", flush=True)


if __name__ == "__main__":
    main()
