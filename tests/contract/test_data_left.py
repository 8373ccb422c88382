"""What a run leaves in the store: every event it creates carries the run's marker (scanned in the
SQLite file after test_generated.py's default-depth runs on SQLite), and a --no-create run leaves
nothing."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.contract.conftest import BASE_PATHS, generated, run_contract
from tests.servers import running_server

STORED = ("event", "identity_value", "payload", "idempotency_key")


def stored_events(db: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(db) as connection:
        return [tuple(map(str, row)) for row in connection.execute(f"SELECT {', '.join(STORED)} FROM events")]


def assert_every_event_is_marked(output: str, db: Path, examples: int) -> None:
    """What a default-depth run (`output`, `examples` cases per mode) created in the SQLite file `db`:
    some events, each carrying the run's marker. Checked on test_generated.py's SQLite runs, which
    are default-depth runs already."""
    # Fuzzing says how far it got while it runs.
    assert re.search(rf"fuzzing \S+ positive: 25 of {examples} cases, 0 failure\(s\) so far", output)
    found = re.search(r"marked contract-test-([0-9a-f]+)", output)
    assert found is not None
    run = found.group(1)
    events = stored_events(db)
    assert events, "the run created no event"
    unmarked = [row for row in events if run not in " ".join(row)]
    assert not unmarked, (
        f"{len(unmarked)} of {len(events)} events lack the marker of run {run}: {unmarked[:3]}"
    )


def test_no_create_leaves_nothing(tmp_path: Path) -> None:
    api = "sendrealm"
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    db = tmp_path / "events.db"
    with running_server(f"generated_server.{api}", EXAMPLE_CONFIG, f"sqlite:///{db}", BASE_PATHS[api],
                        log_dir=tmp_path) as server:  # fmt: skip
        result = run_contract(SPECS[api], server.base_url, "--no-create", "--max-examples", "20")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "test_constraints[ingestEvent] PASSED" in result.stdout
    assert "--no-create: this scenario needs a request the deployment would store" in result.stdout
    assert stored_events(db) == []
