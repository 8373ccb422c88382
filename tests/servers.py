"""The one harness that starts servers as real processes on free loopback ports, shared by the
tests, the benchmark (bench/) and the demo (scripts/demo.py): a generated server by its module
(`start_server`, `running_server`) or any command (`start_process`, `serving`), and throw-away
PostgreSQL schemas (`postgres_schema`, `drop_postgres_schema`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def postgres_schema(admin: str, prefix: str = "t") -> str:
    """A URL whose search_path is a new, empty schema on the PostgreSQL server `admin` names."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in admin else "?"
    return f"{admin}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(admin: str, db_url: str) -> None:
    """Drop the schema `postgres_schema` made for `db_url` (quietly: it is clean-up)."""
    import psycopg

    schema = db_url.rsplit("%3D", 1)[-1]
    with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A server process and the URLs to reach it."""

    process: subprocess.Popen[bytes]
    root: str  # scheme://host:port
    base_url: str  # root + the spec's base path
    log: Path

    def kill(self) -> None:
        """Stop at once, as a crash would: no flush, no shutdown."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    module: str,
    config: Path,
    db: str,
    base_path: str = "",
    log_dir: Path | None = None,
    extra: Sequence[str] = (),
    pythonpath: Path = REPO,
    port: int | None = None,
) -> RunningServer:
    """`python -m module` on 127.0.0.1, returned once it listens and /healthz answers (or an error
    with its log). A free port may be taken by another test's server before this one binds it, so a
    lost race starts again on another port rather than trusting that server's /healthz."""

    def start(chosen: int) -> RunningServer:
        return _start_server(module, config, db, base_path, log_dir, extra, pythonpath, chosen)

    return on_a_free_port(module, start, port)


class PortTaken(RuntimeError):
    """The server could not bind its port: another process holds it."""


def on_a_free_port(
    name: str, start: Callable[[int], RunningServer], port: int | None = None
) -> RunningServer:
    """`start(port)` on `port`, or on a free port, and on another when a racing process took it."""
    for _ in range(5):
        try:
            return start(port or free_port())
        except PortTaken:
            if port:
                raise
    raise RuntimeError(f"{name}: no free port after 5 tries")


def _start_server(
    module: str,
    config: Path,
    db: str,
    base_path: str,
    log_dir: Path | None,
    extra: Sequence[str],
    pythonpath: Path,
    port: int,
) -> RunningServer:
    log = (log_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"{module.replace('.', '_')}-{port}.log"
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", module, "--config", str(config), "--db", db, "--port", str(port), *extra]
    return start_process(command, port, log, base_path, env=env, name=module)


def start_process(
    command: Sequence[str],
    port: int,
    log: Path,
    base_path: str = "",
    *,
    env: dict[str, str] | None = None,
    name: str | None = None,
    timeout: float = 30,
    cwd: Path = REPO,
) -> RunningServer:
    """Run `command` (which serves on 127.0.0.1:`port`, its output to `log`) and return once this
    process holds the port and /healthz answers. PortTaken when another process had the port."""
    name = name or Path(command[0]).name
    with log.open("wb") as out:
        process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text()
            if "address already in use" in text:
                raise PortTaken(text)
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{text}")
        # Another process's /healthz must not pass for this one's: the listening line names the
        # port only once this process has bound it (or, at a quieter log level, the kernel says so).
        listening = f"127.0.0.1:{port}" in log.read_text() or holds_port(process.pid, port)
        with contextlib.suppress(httpx.TransportError):
            if listening and httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                return RunningServer(process, root, root + base_path, log)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{name} did not answer /healthz within {timeout:g} s:\n{log.read_text()}")


def holds_port(pid: int, port: int) -> bool:
    """Whether process `pid` has a socket listening on TCP `port` (Linux /proc; False elsewhere)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False


@contextlib.contextmanager
def serving(
    command: Sequence[str],
    log_dir: Path,
    name: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = 30,
) -> Iterator[RunningServer]:
    """`command` plus `--port P` on a free port (another on a lost race), run in `cwd`, stopped on exit."""

    def start(port: int) -> RunningServer:
        log = log_dir / f"{name}-{port}.log"
        command_on_port = [*command, "--port", str(port)]
        return start_process(command_on_port, port, log, env=env, name=name, cwd=cwd, timeout=timeout)

    server = on_a_free_port(name, start)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_server(*args: object, **kwargs: object) -> Iterator[RunningServer]:
    server = start_server(*args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
