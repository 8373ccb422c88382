"""The base install's promise, checked fast in the checkout: loading the command line imports nothing
that only an extra installs, so lint, migrate, diff and docs run without any extra (the wheel test
checks the same in a fresh venv, slowly), and each extra's modules are named where the refusal is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ingestspec.generator.cli import extras
from ingestspec.generator.cli.main import main

EXTRA_ONLY = sorted({name for _, modules in extras.NEEDS.values() for name in modules} | {"starlette"})


def test_loading_the_command_line_imports_no_extra() -> None:
    probe = (
        "import json, sys\n"
        "import ingestspec.generator.cli.main\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({EXTRA_ONLY!r}))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout) == []


def test_a_command_whose_extra_is_missing_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras.NEEDS, "generate", ("generate", ("ingestspec_no_such_module",)))
    result = CliRunner().invoke(main, ["generate", "arsel", "--check"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: `ingestspec generate` needs the [generate] extra: pip install 'ingestspec[generate]'"
        " (missing: ingestspec_no_such_module)"
    ]
    assert CliRunner().invoke(main, ["generate", "--help"]).exit_code == 0  # help needs no extra
