"""`x-ingest.id_prefix` with every id format: a server generated from a lint-clean spec with a prefix
passes its own contract suite (the id check strips the prefix before judging the format), and the
same server making ids of another format after the prefix is caught."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import BASE_PATHS, INGESTSPEC, run_contract
from tests.contract.faults.test_faults import failed_tests
from tests.servers import running_server
from tests.specs import edited, op

PREFIX = "trk_"


def prefixed(id_format: str) -> Any:
    """The edit: `id_prefix` and `id_format` set, the id answered as a plain string."""

    def edit(document: dict[str, Any]) -> None:
        block = upgrade(op(document)["x-ingest"])
        block.update(id_prefix=PREFIX, id_format=id_format)
        op(document)["x-ingest"] = block
        document["components"]["schemas"]["EventAccepted"]["properties"]["id"] = {
            "type": "string",
            "description": f"The event id: {PREFIX} then a {id_format}.",
        }

    return edit


@pytest.mark.parametrize("id_format", ["uuid7", "uuid4", "ulid"])
@pytest.mark.parametrize(("fault", "code"), [("", 0), ("wrong_id_format", 1)])
def test_a_prefixed_id_passes_and_another_format_after_it_is_caught(
    tmp_path: Path, id_format: str, fault: str, code: int
) -> None:
    spec = edited(tmp_path, "arsel", prefixed(id_format))
    assert not [p for p in lint(spec) if p.severity == "error"]
    package = f"trk_{id_format}_api"
    subprocess.run([str(INGESTSPEC), "generate", str(spec), "--out", str(tmp_path / package)], check=True)
    module, extra = (
        ("tests.contract.faults.run", ["--package", package, "--fault", fault]) if fault else (package, [])
    )
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        module, EXAMPLE_CONFIG, db, BASE_PATHS["arsel"], log_dir=tmp_path, extra=extra, pythonpath=tmp_path
    ) as server:
        result = run_contract(spec, server.base_url, "--max-examples", "5", "--seed", "1")
    assert result.returncode == code, result.stdout[-6000:] + result.stderr[-3000:]
    if fault:
        assert f"after the prefix '{PREFIX}'" in result.stdout
        assert "success" in failed_tests(result.stdout)
    else:
        assert "No failures." in result.stdout
