"""`ingestspec lint` passes the real specs and names what is wrong in broken copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.lint import lint
from tests.conftest import SPECS
from tests.specs import edited, op, x_ingest


def test_the_real_specs_are_sound(api: str) -> None:
    assert lint(SPECS[api]) == []








BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "example breaks its schema": (
        lambda d: op(d)["requestBody"]["content"]["application/json"]["examples"]["curl"]["value"].pop(
            "event"
        ),
        "request example curl",
    ),
    "x-ingest breaks its schema": (
        lambda d: x_ingest(d)["identity"].update(mode="any"),
        "x-ingest.identity.mode",
    ),
    "error without a documented status": (
        lambda d: x_ingest(d)["errors"]["catalogue"]["payload_invalid"].update(status=409),
        "answers 409, which is not a documented response",
    ),
    "error body breaks the documented schema": (
        lambda d: x_ingest(d)["errors"].update(status_field="code"),
        "error 'unauthorized' body",
    ),
    "x-ingest names an absent field": (
        lambda d: x_ingest(d)["payload"].update(field="body"),
        "request field 'body'",
    ),
    "unknown catalogue key": (
        lambda d: x_ingest(d)["payload"].update(mismatch_error="nope"),
        "refers to error 'nope'",
    ),
    "not OpenAPI": (lambda d: d.pop("info"), "OpenAPI:"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_names_the_problem(tmp_path: Path, api: str, case: str) -> None:
    edit, expected = BROKEN[case]
    problems = lint(edited(tmp_path, api, edit))
    assert any(expected in p for p in problems), problems


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["lint", "arsel", "sendrealm"])
    assert ok.exit_code == 0, ok.output
    broken = edited(tmp_path, "arsel", BROKEN["unknown catalogue key"][0])
    bad = runner.invoke(main, ["lint", str(broken)])
    assert bad.exit_code == 1
    assert "refers to error 'nope'" in bad.output
    missing = runner.invoke(main, ["lint", "no-such-api"])
    assert missing.exit_code == 2
