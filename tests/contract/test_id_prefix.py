"""`x-ingest.id_prefix` with every id format: a server generated from a lint-clean spec with a prefix
passes its own contract suite (the id check strips the prefix before judging the format), and the
same server making ids of another format after the prefix is caught."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import BASE_PATHS, generate, run_contract
from tests.contract.faults.outcome import failed_tests
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


@dataclass(frozen=True)
class Prefixed:
    """The edited spec and the server generated from it (in `folder`, as `package`)."""

    spec: Path
    folder: Path
    package: str


@pytest.fixture(scope="module")
def id_format(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Prefixed:
    """Generated once for the correct server and the faulty one."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(name)
    spec = edited(folder, "arsel", prefixed(name))
    assert not [p for p in lint(spec) if p.severity == "error"]
    package = f"trk_{name}_api"
    generate(spec, folder / package)
    return Prefixed(spec, folder, package)


@pytest.mark.parametrize("id_format", ["uuid7", "uuid4", "ulid"], indirect=True)
@pytest.mark.parametrize(("fault", "code"), [("", 0), ("wrong_id_format", 1)])
def test_a_prefixed_id_passes_and_another_format_after_it_is_caught(
    tmp_path: Path, id_format: Prefixed, fault: str, code: int
) -> None:
    package = id_format.package
    module, extra = (
        ("tests.contract.faults.run", ["--package", package, "--fault", fault]) if fault else (package, [])
    )
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        module,
        EXAMPLE_CONFIG,
        db,
        BASE_PATHS["arsel"],
        log_dir=tmp_path,
        extra=extra,
        pythonpath=id_format.folder,
    ) as server:
        result = run_contract(id_format.spec, server.base_url, "--max-examples", "5", "--seed", "1")
    assert result.returncode == code, result.stdout[-6000:] + result.stderr[-3000:]
    if fault:
        assert f"after the prefix '{PREFIX}'" in result.stdout
        assert "success" in failed_tests(result.stdout)
    else:
        assert "No failures." in result.stdout
