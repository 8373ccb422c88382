"""Before and after, counted: the CPU instructions a generated app spends per request, in process.

    .venv/bin/python bench/instructions.py [--api arsel] [--before HEAD] [--access-log]

Time on a shared machine moves by tens of percent from one run to the next, even in process
(bench/ab.py); the instructions a request executes do not. Each side (the bare Starlette app,
the package as generated at `--before`, the worktree's generated_server/<api>) runs in a child
process under valgrind's cachegrind, which counts every instruction the process executes: the
child drives the app as bench/ab.py does (ASGI, storage stubbed, one request at a time, the
collector set as the app's lifespan sets it), once with `--requests` requests and once with three
times as many, and the difference over the extra requests is the cost of one. Start-up and
imports cancel out; PYTHONHASHSEED=0 keeps dictionaries laid out alike. An instruction is not a
nanosecond (a cache miss costs hundreds of them, and counts none), so this tells whether a change
removed work, and bench/ab.py or `make bench --compare` how much time that was.

Needs valgrind (Debian's `valgrind` package); each child takes about 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvloop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from ab import WORK, at_commit, before_and_after_parser, collector_as_deployed, stubbed_app  # noqa: E402
from stages import call, request_for  # noqa: E402

BARE = "bare"
_TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


def counted(package: str, api: str, requests: int, access_log: bool) -> int:
    """The instructions a child process executes driving `package` with `requests` requests."""
    command = [__file__, "--child", package, "--api", api, "--requests", str(requests)]
    if access_log:
        command.append("--access-log")
    return executed(command, package)


def executed(arguments: Sequence[str], label: str) -> int:
    """The CPU instructions `python arguments...` executes, every thread counted (valgrind's
    cachegrind); PYTHONHASHSEED=0 keeps dictionaries laid out alike from one run to the next."""
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, *arguments,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    found = _TOTAL.search(result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"{label}: the counted run failed:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_request(package: str, api: str, requests: int, access_log: bool) -> float:
    fewer = counted(package, api, requests, access_log)
    more = counted(package, api, 3 * requests, access_log)
    return (more - fewer) / (2 * requests)


async def drive(package: str, api: str, requests: int, access_log: bool) -> None:
    """The child's part: a warm-up, then `requests` requests through the app, one at a time."""
    if access_log and package != BARE:
        importlib.import_module(f"{package}.logs").configure()
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # the lines are made and written, unread
    with tempfile.TemporaryDirectory(dir=REPO / "var") as folder:
        if package == BARE:
            app = importlib.import_module("bare_app").create_app()
        else:
            app = stubbed_app(package, folder, access_log)
        sample = [request_for(api, i) for i in range(requests)]
        for request in sample[:200]:
            assert await call(app, request) in (200, 202)
        collector_as_deployed()
        for request in sample:
            await call(app, request)
        await asyncio.sleep(0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = before_and_after_parser(__doc__)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    (REPO / "var").mkdir(exist_ok=True)
    if args.child:
        sys.path.insert(0, str(WORK))
        uvloop.run(drive(args.child, args.api, args.requests, args.access_log))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    WORK.mkdir(parents=True, exist_ok=True)
    sides = {
        "bare starlette": BARE,
        f"at {args.before}": at_commit(args.api, args.before),
        "now": f"generated_server.{args.api}",
    }
    log = " with the access line" if args.access_log else ""
    print(f"{args.api}, in process, storage stubbed{log}: CPU instructions per request (valgrind)")
    figures = {}
    for label, package in sides.items():
        figures[label] = per_request(package, args.api, args.requests, args.access_log)
        own = "" if package == BARE else f"   own {figures[label] - figures['bare starlette']:>9,.0f}"
        print(f"  {label:<16} {figures[label]:>9,.0f}{own}", flush=True)


if __name__ == "__main__":
    main()
