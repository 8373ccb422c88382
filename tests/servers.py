"""Start a generated server as a real process on a free loopback port, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


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
    for _ in range(5):
        try:
            chosen = port or free_port()
            return _start_server(module, config, db, base_path, log_dir, extra, pythonpath, chosen)
        except PortTaken:
            if port:
                raise
    raise RuntimeError(f"{module}: no free port after 5 tries")


class PortTaken(RuntimeError):
    """The server could not bind its port: another process holds it."""


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
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text()
            if "address already in use" in text:
                raise PortTaken(text)
            raise RuntimeError(f"{module} exited with {process.returncode}:\n{text}")
        # The listening line names the port only once this process has bound it.
        listening = f"127.0.0.1:{port}" in log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if listening and httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                return RunningServer(process, root, root + base_path, log)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{module} did not answer /healthz within 30 s:\n{log.read_text()}")


@contextlib.contextmanager
def running_server(*args: object, **kwargs: object) -> Iterator[RunningServer]:
    server = start_server(*args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
