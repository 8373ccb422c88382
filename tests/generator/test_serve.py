"""`ingestspec serve` runs a committed server from any folder, on the example config by default."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.servers import serving


def test_serve_with_no_config_uses_the_example_and_a_local_sqlite_file(tmp_path: Path) -> None:
    command = [str(Path(sys.executable).parent / "ingestspec"), "serve", "arsel"]
    with serving(command, tmp_path, "serve", cwd=tmp_path) as server:
        response = httpx.post(
            server.root + "/v1/events/send",
            json={
                "event": "order.completed",
                "email": "john.doe@example.com",
                "data": {"order_id": "A", "total": 1},
            },
            headers={"Authorization": "Bearer be_your_api_key"},
        )
        assert response.status_code == 202
        assert (tmp_path / "var" / "arsel.db").exists()
