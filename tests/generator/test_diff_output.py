"""`ingestspec diff --format sarif|github`: each change a result at its place in NEW's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from tests.specs import edited, op


def schema(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas["SendEventRequest"]


def two_changes(document: dict[str, Any]) -> None:
    schema(document)["properties"]["email"]["maxLength"] = 64  # breaking for clients
    op(document)["responses"].pop("415")  # an error status removed: breaking for servers


def test_sarif(tmp_path: Path) -> None:
    new = edited(tmp_path, "arsel", two_changes)
    result = CliRunner().invoke(main, ["diff", "arsel", str(new), "--format", "sarif"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)["runs"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"max-length-narrowed", "error-status-removed"}
    assert results["max-length-narrowed"]["level"] == "error"
    assert results["error-status-removed"]["level"] == "warning"
    region = results["max-length-narrowed"]["locations"][0]["physicalLocation"]["region"]
    line = new.read_text().splitlines()[region["startLine"] - 1]
    # The property that changed, found through the request body's $ref to its component.
    assert line[region["startColumn"] - 1 :].startswith("email:")
    lines = new.read_text().splitlines()
    assert region["startLine"] > lines.index("    SendEventRequest:")
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == set(results)


def test_github(tmp_path: Path) -> None:
    new = edited(tmp_path, "arsel", two_changes)
    result = CliRunner().invoke(
        main, ["diff", "arsel", str(new), "--format", "github", "--fail-on", "breaking"]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("::")]
    assert len(lines) == 2
    error = next(line for line in lines if line.startswith("::error "))
    assert f"file={new}," in error and "title=max-length-narrowed (breaking for clients)" in error
    assert any(line.startswith("::warning ") and "error status 415" in line for line in lines)
