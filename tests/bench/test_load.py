"""What `make bench` sends, read from each spec: accepted as sent, and every request a new event."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bench.load import UNIQUE, Load, load_for
from bench.throughput import count_stored
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.servers import running_server

KEY = "be_acme_test_key"


def send(root: str, load: Load, marker: str) -> httpx.Response:
    path, headers, body = load.sample(marker)
    return httpx.request(load.method, root + path, headers=headers, content=body, timeout=10)


@pytest.mark.parametrize("api", ["arsel", "sendrealm"])
def test_the_template_is_accepted_and_each_marker_is_a_new_event(api: str, tmp_path: Path) -> None:
    package = REPO / "generated_server" / api
    if not (package / "app.py").exists():
        pytest.skip(f"generated_server/{api} is not generated")
    load = load_for(api, package, KEY)
    assert "\n" not in load.body and load.plan().count("\nBODY ") == 1
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(f"generated_server.{api}", EXAMPLE_CONFIG, db, log_dir=tmp_path) as server:
        first, second = send(server.root, load, "run-1-1"), send(server.root, load, "run-1-2")
        assert first.status_code in (200, 201, 202), first.text
        assert second.status_code == first.status_code, second.text
        assert first.content != second.content  # two events, two ids
        if UNIQUE in load.plan():  # a deduplicating API: the same marker is a replay, not a third event
            assert send(server.root, load, "run-1-1").status_code < 300
    # What the bench's store check counts: one event per request with a new marker.
    assert count_stored(f"generated_server.{api}", db) == 2 * load.events_per_request
