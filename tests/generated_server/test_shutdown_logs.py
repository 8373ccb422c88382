"""SIGTERM writes every process's shutdown lines: `python -m arsel` stopped as a process manager stops
it (one process, and a supervisor with two worker processes). uvicorn re-raises SIGTERM with its
default action after the graceful shutdown, which ends a process without Python's exit handlers,
so the lines the log handler still held were lost (the log ended at "Uvicorn running on ...")."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import generated
from tests.servers import start_server


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_writes_the_shutdown_lines_of_every_process(workers: int, tmp_path: Path) -> None:
    if not generated("arsel"):
        pytest.skip("generated_server/arsel has not been generated yet")
    db = f"sqlite:///{tmp_path / 'events.db'}"
    extra = ["--workers", str(workers)]
    server = start_server("generated_server.arsel", EXAMPLE_CONFIG, db, "/v1", log_dir=tmp_path, extra=extra)
    try:
        # The first worker answering is not every worker started: wait for each one's startup line.
        deadline = time.monotonic() + 30
        while server.log.read_text().count("Application startup complete.") < workers:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        # A request answered just before the signal: its access line is among the last ones held.
        assert httpx.get(f"{server.root}/v1/no-such-route", timeout=10).status_code == 404
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    messages = {(line["pid"], line["message"]) for line in lines}
    served = sorted(
        {int(m[1]) for _, text in messages if (m := re.fullmatch(r"Started server process \[(\d+)\]", text))}
    )
    assert len(served) == workers, messages
    for pid in served:
        for text in ("Shutting down", "Application shutdown complete.", f"Finished server process [{pid}]"):
            assert (pid, text) in messages, f"process {pid} did not write {text!r}:\n{server.log.read_text()}"
    if workers > 1:
        assert any(text.startswith("Stopping parent process") for _, text in messages), messages
    assert any(line.get("path") == "/v1/no-such-route" for line in lines), server.log.read_text()
