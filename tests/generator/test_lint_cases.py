"""One broken spec per lint rule (`tests/generator/lint_cases/`): each problem at its line, column and rule.

The json output of `ingestspec lint` is compared with `expected.json`, and the text output of a few
files with `snapshot.txt`, both run from the cases' folder so the paths are the files' names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestspec.generator.cli.main import main
from ingestspec.generator.lint.linter import rule_summaries

CASES = Path(__file__).parent / "lint_cases"
SNAPSHOT_FILES = [
    "catalogue-has-key.yaml",
    "error-examples-match-the-catalogue.yaml",
    "links-name-operations.yaml",
    "ref-resolves.yaml",
    "x-ingest-unknown-key.yaml",
    "yaml-syntax.yaml",
    "catalogue-entries-are-answered.yaml",
]


def lint_here(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(CASES)
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.stdout


def test_every_rule_has_a_broken_spec() -> None:
    files = {path.stem for path in CASES.glob("*.yaml")}
    assert sorted(set(rule_summaries()) - files) == ["readable"]  # a file that cannot be read
    assert sorted(files - set(rule_summaries())) == []


def test_each_broken_spec_is_reported_where_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(path.name for path in CASES.glob("*.yaml"))
    code, output = lint_here(monkeypatch, *files, "--format", "json")
    assert code == 1
    found: dict[str, list[list[object]]] = {}
    for problem in json.loads(output):
        found.setdefault(problem["file"], []).append([problem["line"], problem["column"], problem["rule"]])
    assert found == json.loads((CASES / "expected.json").read_text())
    for name in files:  # the rule the file is named after is among what it reports
        assert Path(name).stem in {rule for _, _, rule in found[name]}, name


def test_the_text_output(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = lint_here(monkeypatch, *SNAPSHOT_FILES)
    assert code == 1
    assert output == (CASES / "snapshot.txt").read_text()


def test_warnings_fail_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lint_here(monkeypatch, "catalogue-entries-are-answered.yaml")[0] == 0
    assert lint_here(monkeypatch, "catalogue-entries-are-answered.yaml", "--fail-on", "warning")[0] == 1


def test_sarif_output(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = lint_here(monkeypatch, "ref-resolves.yaml", "--format", "sarif")
    assert code == 1
    log = json.loads(output)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert sorted(rules) == sorted(rule_summaries())
    (result,) = run["results"]
    assert result["ruleId"] == "ref-resolves" and rules[result["ruleIndex"]] == "ref-resolves"
    assert result["level"] == "error"
    assert "did you mean 'SendEventRequest'" in result["message"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "ref-resolves.yaml"},
        "region": {"startLine": 81, "startColumn": 15},
    }


def test_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = lint_here(
        monkeypatch, "links-name-operations.yaml", "catalogue-entries-are-answered.yaml", "--format", "github"
    )
    assert code == 1
    lines = output.splitlines()
    assert lines[0].startswith(
        "::error file=links-name-operations.yaml,line=113,col=15,title=links-name-operations::sendEvent: "
    )
    assert lines[1].startswith("::warning file=catalogue-entries-are-answered.yaml,line=377,col=13,")
