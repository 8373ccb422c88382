"""`ingestspec migrate`: version-1 specs rewritten to version 2 mean exactly what they meant.

The shipped specs stay version 1 in the repository (they are the compatibility proof); here they
are migrated into temporary copies, which must lint, load to the same model and generate the same
server.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import X_INGEST_VERSION
from ingestspec.generator.spec.rewrite import migrate_text
from tests.conftest import SPECS
from tests.specs import x_ingest

# Generated files that carry the spec itself (a copy, or embedded in the page), so differ with its text.
_SPEC_COPIES = {"openapi.yaml", "docs.html"}


def migrated(tmp_path: Path, api: str) -> Path:
    result = CliRunner().invoke(main, ["migrate", api])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{api}.yaml"
    path.write_text(result.output)
    return path


def test_the_shipped_specs_stay_version_1(api: str) -> None:
    assert "version" not in x_ingest(yaml.safe_load(SPECS[api].read_text()))
    assert load_spec(SPECS[api]).ingest_operations[0].ingest.version == 1  # type: ignore[union-attr]


def test_only_the_x_ingest_block_changes(tmp_path: Path, api: str) -> None:
    old = SPECS[api].read_text().splitlines()
    new = migrated(tmp_path, api).read_text().splitlines()
    start = next(i for i, line in enumerate(old) if line.strip() == "x-ingest:")
    assert new[: start + 1] == old[: start + 1]
    assert new[start + 1].strip() == f"version: {X_INGEST_VERSION}"
    # Everything after the block (the components) is as written, comments and quoting included.
    indent = len(old[start]) - len(old[start].lstrip())
    end = next(
        i
        for i in range(start + 1, len(old))
        if old[i].strip() and len(old[i]) - len(old[i].lstrip()) <= indent
    )
    tail = old[end:]
    assert new[-len(tail) :] == tail


def test_a_migrated_spec_lints_and_loads_to_the_same_model(tmp_path: Path, api: str) -> None:
    path = migrated(tmp_path, api)
    assert lint(path) == []
    old, new = load_spec(SPECS[api]), load_spec(path)
    assert new.ingest_operations[0].ingest.version == X_INGEST_VERSION  # type: ignore[union-attr]
    assert [_without_version(op) for op in new.operations] == [_without_version(op) for op in old.operations]


def _without_version(op: object) -> object:
    ingest = getattr(op, "ingest", None)
    return dataclasses.replace(op, ingest=dataclasses.replace(ingest, version=0))  # type: ignore[type-var]


def test_a_migrated_spec_generates_the_same_server(tmp_path: Path, api: str) -> None:
    # The same spec path and output folder for both, so that the headers are the same.
    spec, out = tmp_path / "spec" / f"{api}.yaml", tmp_path / "out" / api
    spec.parent.mkdir()
    spec.write_text(SPECS[api].read_text())
    generate(spec, out)
    out.rename(tmp_path / "old")
    spec.write_text(migrated(tmp_path, api).read_text())
    generate(spec, out)
    names = sorted(p.name for p in (tmp_path / "old").iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    # The manifest holds the spec's hash, so it differs; no other file carries it.
    for name in sorted(set(names) - _SPEC_COPIES - {"manifest.json"}):
        assert (out / name).read_text() == (tmp_path / "old" / name).read_text(), name


def test_migrate_write_rewrites_in_place_once(tmp_path: Path) -> None:
    path = tmp_path / "arsel.yaml"
    path.write_text(SPECS["arsel"].read_text())
    runner = CliRunner()
    first = runner.invoke(main, ["migrate", str(path), "--write"])
    assert first.exit_code == 0 and "x-ingest upgraded" in first.output
    text = path.read_text()
    again = runner.invoke(main, ["migrate", str(path), "--write"])
    assert again.exit_code == 0 and "already current" in again.output
    assert path.read_text() == text
    assert migrate_text(text) == text


def test_a_json_spec_stays_json(tmp_path: Path) -> None:
    path = tmp_path / "sendrealm.json"
    path.write_text(json.dumps(yaml.safe_load(SPECS["sendrealm"].read_text()), indent=2))
    new = json.loads(migrate_text(path.read_text()))
    block = x_ingest(new)
    assert block["version"] == X_INGEST_VERSION
    assert block["dedupe"]["key"] == {"in": "body", "name": "idempotency_key"}
    path.write_text(json.dumps(new))
    assert lint(path) == []


def test_comments_outside_the_block_survive(tmp_path: Path) -> None:
    text = SPECS["arsel"].read_text().replace("components:\n", "components:  # shared parts\n", 1)
    assert "components:  # shared parts\n" in migrate_text(text)
