"""Any two revisions of a spec compare: the repository's first commit against the working copy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from ingestspec.generator.diff import diff_specs, spec_at_revision
from ingestspec.generator.spec.loader import load_spec
from tests.conftest import REPO, SPECS


def first_commit() -> str:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: there is no history to compare")
    result = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout.split()[-1]


def test_the_first_commits_specs_compare_with_the_current_ones(api: str) -> None:
    root = first_commit()
    old = spec_at_revision(root, f"openapi/{api}.yaml", cwd=REPO)
    result = diff_specs(old, load_spec(SPECS[api]))
    assert all(change.kind and change.message for change in result.changes)
    # The first specs had no storage_unavailable entry (a fixed error since): read as they were, it
    # is reported as added, where loading them with today's schema alone refuses them.
    kinds = {(change.kind, change.location.rsplit(".", 1)[-1]) for change in result.changes}
    assert ("error-added", "storage_unavailable") in kinds


def test_the_command_compares_the_first_commit(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = first_commit()
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["diff", f"{root}:openapi/{api}.yaml", f"openapi/{api}.yaml"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{root}:openapi/{api}.yaml -> openapi/{api}.yaml: ")


def test_a_malformed_version_is_a_usage_problem(tmp_path: Path) -> None:
    document = yaml.safe_load(SPECS["arsel"].read_text())
    document["paths"]["/events/send"]["post"] = "oops"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["diff", "arsel", str(broken)])
    assert result.exit_code == 2, result.output
    assert "`ingestspec lint` says where" in result.output
