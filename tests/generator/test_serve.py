"""`ingestspec serve` runs a committed server from any folder, on the example config by default."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


def test_serve_with_no_config_uses_the_example_and_a_local_sqlite_file(tmp_path: Path) -> None:
    port = free_port()
    command = [str(Path(sys.executable).parent / "ingestspec"), "serve", "arsel", "--port", str(port)]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        response = httpx.post(
            url + "/v1/events/send",
            json={
                "event": "order.completed",
                "email": "john.doe@example.com",
                "data": {"order_id": "A", "total": 1},
            },
            headers={"Authorization": "Bearer be_your_api_key"},
        )
        assert response.status_code == 202
        assert (tmp_path / "var" / "arsel.db").exists()
    finally:
        process.terminate()
        process.wait(15)
