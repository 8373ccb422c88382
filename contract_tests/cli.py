"""`ingestspec contract`: parse the flags, check they make sense, and run the pytest suite."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import click

from ingestspec.generator.usage import Failed, UsageProblem, spec_path

from . import apikeys

SUITE_DIR = Path(__file__).resolve().parent
_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


@click.command("contract")
@click.argument("spec")
@click.option("--base-url", required=True, help="The API's base URL, as a `servers` entry gives it.")
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="An API key (else --api-key-file, else INGESTSPEC_API_KEY and INGESTSPEC_API_KEY_2). "
    "Give a second one, of another project, to run the isolation checks.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False),
    help="A file of API keys, one a line (blank lines and # comments ignored).",
)
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(),
    help="The deployment's server configuration (projects, keys, limits, event definitions).",
)
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Also write a JUnit XML report here.")
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    help="Fuzzed cases per operation and mode (default 100, or INGESTSPEC_FUZZ_EXAMPLES).",
)
@click.option("--seed", type=int, help="Seed the fuzzer for a reproducible run.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run the tests in this many processes (needs pytest-xdist).",
)
def contract(
    spec: str,
    base_url: str,
    api_keys: tuple[str, ...],
    api_key_file: str | None,
    config_path: str,
    junit_xml: str | None,
    max_examples: int | None,
    seed: int | None,
    workers: int,
) -> None:
    """Judge a deployment of SPEC at --base-url against the spec and its documented behaviour.

    Fuzzes every operation with Schemathesis (payloads built from the configuration's event
    definitions), runs every documented scenario, then prints failures with curl lines and a
    conformance matrix. Exit 0: conforms; 1: does not; 2: cannot run (bad spec, config or URL).
    """
    from .target import TargetError, load_target

    path = spec_path(spec)
    try:
        api_keys = apikeys.resolve(api_keys, api_key_file)
    except apikeys.KeyProblem as exc:
        raise UsageProblem(str(exc)) from exc
    try:
        load_target(path, base_url, api_keys, config_path, max_examples=max_examples, seed=seed)
    except TargetError as exc:
        raise UsageProblem(str(exc)) from exc
    if workers > 1 and importlib.util.find_spec("xdist") is None:
        raise UsageProblem("--workers needs pytest-xdist installed")
    code = run_suite(path, base_url, api_keys, config_path, junit_xml, max_examples, seed, workers)
    if code == 1:
        raise Failed("the deployment does not conform to the spec")
    if code != 0:
        raise UsageProblem(f"the contract suite could not run (pytest exit code {code})")


def run_suite(
    spec: Path,
    base_url: str,
    api_keys: tuple[str, ...],
    config_path: str,
    junit_xml: str | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> int:
    """Run the pytest suite in `contract_tests/` against a target; pytest's exit code."""
    import pytest

    args = [
        str(SUITE_DIR),
        "--spec",
        str(spec),
        "--base-url",
        base_url,
        "--config",
        config_path,
        "--rootdir",
        str(SUITE_DIR),
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-o",
        "testpaths=",
        "-v",
        "--tb=no",
        "-rs",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    if junit_xml:
        args += ["--junit-xml", junit_xml]
    if max_examples is not None:
        args += ["--max-examples", str(max_examples)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if workers > 1:
        args += ["-p", "xdist.plugin", "-n", str(workers)]
    # The suite needs none of the pytest plugins installed beside it, and loading them all costs
    # seconds per run; pytest-xdist is loaded by name when --workers asks for it.
    # The keys travel in the environment, never on a command line (which `ps` shows).
    settings = {_AUTOLOAD: "1", **{apikeys.variable(i): key for i, key in enumerate(api_keys)}}
    for name in apikeys.VARIABLES:
        settings.setdefault(name, "")
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        return int(pytest.main(args))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
