"""`ingestspec contract` passes on the generated reference servers, on SQLite and on PostgreSQL; on
SQLite the same run shows that every event it created carries its marker (test_data_left.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingestspec.contract_tests.depth import FUZZ_ENV, default_max_examples
from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.contract.conftest import BASE_PATHS, generated, run_contract
from tests.contract.test_data_left import assert_every_event_is_marked
from tests.servers import running_server


@pytest.mark.parametrize("api", ["arsel", "sendrealm"])
def test_the_generated_server_conforms(api: str, db_url: str, tmp_path: Path) -> None:
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    junit = tmp_path / "junit.xml"
    with running_server(
        f"generated_server.{api}", EXAMPLE_CONFIG, db_url, BASE_PATHS[api], log_dir=tmp_path
    ) as server:
        started = time.monotonic()
        # Default depth, as a user would run it: it must stay well under three minutes. A fixed
        # seed keeps `make test` deterministic; `make test-deep` fuzzes with a fresh seed each run.
        seed = [] if os.environ.get(FUZZ_ENV) else ["--seed", "1"]
        result = run_contract(SPECS[api], server.base_url, "--junit-xml", str(junit), *seed)
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "No failures." in result.stdout
    assert elapsed < 180, f"the default run took {elapsed:.0f} s"
    assert 'failures="0"' in junit.read_text()
    if db_url.startswith("sqlite:///"):  # the same run shows what a run leaves in the store
        examples = default_max_examples()
        assert_every_event_is_marked(result.stdout, Path(db_url.removeprefix("sqlite:///")), examples)
