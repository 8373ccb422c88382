"""The shared harness starts any command on a free port and knows whose port it is."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import httpx

from tests.servers import REPO, holds_port, serving


def test_serving_a_command_that_does_not_announce_its_port(tmp_path: Path) -> None:
    # At log level warning uvicorn prints no listening line: readiness rests on the kernel's word.
    command = [sys.executable, str(REPO / "bench" / "bare_app.py"), "--log-level", "warning"]
    with serving(command, tmp_path, "bare") as server:
        port = int(server.root.rsplit(":", 1)[1])
        assert holds_port(server.process.pid, port)
        assert not holds_port(os.getpid(), port)
        assert httpx.post(server.root + "/any/path", content=b"{}").status_code == 202
    assert server.process.poll() is not None  # stopped on leaving


def test_holds_port_sees_our_own_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert not holds_port(os.getpid(), port)  # bound, not listening
        sock.listen()
        assert holds_port(os.getpid(), port)
