"""The machine under the benchmark: wrk, CPU pinning and priority, and CPU accounting from /proc."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

SERVER_CPU, LOAD_CPU = "0", "1"
PRIORITY = -10  # nice value for server and wrk when we may raise priority: other work yields to them
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def cpus() -> int:
    return os.cpu_count() or 1


def server_cpus(processes: int) -> str:
    """The CPUs a server of `processes` processes is pinned to: its own CPUs while one is left for
    wrk, else every CPU (shared with wrk: the figure then says what the machine can do, not the server)."""
    if processes + 1 <= cpus():
        return ",".join(str(n) for n in range(processes)) if processes > 1 else SERVER_CPU
    return f"0-{cpus() - 1}"


def pinned(cpu_list: str, command: list[str]) -> list[str]:
    """The command on the given CPUs and, as root, ahead of other processes (both tools exec: same pid)."""
    # On a one-CPU machine pinning server and load apart is impossible: run unpinned and say so.
    if cpus() >= 2 and shutil.which("taskset"):
        command = ["taskset", "-c", cpu_list, *command]
    if os.geteuid() == 0 and shutil.which("nice"):
        command = ["nice", "-n", str(PRIORITY), *command]
    return command


def pinning() -> str:
    text = (
        "unpinned (fewer than 2 CPUs)" if cpus() < 2 else f"server on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}"
    )
    if os.geteuid() == 0:
        text += f", both at nice {PRIORITY}"
    return text


def loadavg() -> float:
    with contextlib.suppress(OSError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return 0.0


def _stat_cpu(stat: Path) -> float:
    """User + system CPU seconds from a /proc stat file (a process's or one of its threads')."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone."""
    with contextlib.suppress(OSError):
        return _stat_cpu(Path(f"/proc/{pid}/stat"))
    return 0.0


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) each thread of a process has used so far, by thread id."""
    found = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                found[int(task.name)] = _stat_cpu(task / "stat")
    return found


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (uvicorn's worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def tree_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds per process of a process tree, read together."""
    return {pid: process_cpu(pid) for pid in pids}


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (wrk)."""
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
