"""`ingestspec contract`: parse the flags, check they make sense, and run the pytest suite.

Defaults for any option may come from a run configuration: the `[contract]` table of
`ingestspec.toml`, or `[tool.ingestspec.contract]` in `pyproject.toml`, in the current directory
(option names as on the command line, dashes or underscores). Command-line options win.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ingestspec.generator.cli.failures import Failed, UsageProblem
from ingestspec.generator.cli.spec_names import spec_path

from . import apikeys
from .depth import DEFAULT_MAX_EXAMPLES, FUZZ_ENV

SUITE_DIR = Path(__file__).resolve().parent
_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
RUN_CONFIG_FILES = (
    ("ingestspec.toml", ("contract",)),
    ("pyproject.toml", ("tool", "ingestspec", "contract")),
)
# Options handed to the pytest suite as they are: (click parameter, pytest option, repeated).
PASSED_ON = (
    ("headers", "--header", True),
    ("request_timeout", "--request-timeout", False),
    ("max_response_time", "--max-response-time", False),
    ("rate_limit", "--rate-limit", False),
    ("tls_verify", "--tls-verify", False),
    ("cacert", "--cacert", False),
    ("cert", "--cert", False),
    ("cert_key", "--cert-key", False),
    ("proxy", "--proxy", False),
    ("checks", "--checks", False),
    ("exclude_checks", "--exclude-checks", False),
    ("include", "--include", True),
    ("exclude", "--exclude", True),
    ("mode", "--mode", False),
)


def run_configuration(directory: Path | None = None) -> dict[str, Any]:
    """The defaults a run configuration file gives, keyed by parameter name."""
    for name, keys in RUN_CONFIG_FILES:
        path = (directory or Path.cwd()) / name
        if not path.is_file():
            continue
        try:
            table: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageProblem(f"{path}: {exc}") from exc
        for key in keys:
            table = table.get(key, {}) if isinstance(table, dict) else {}
        if table:
            return {str(k).replace("-", "_"): v for k, v in table.items()}
    return {}


class ContractCommand(click.Command):
    """The `contract` command, with defaults read from the run configuration."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        found = run_configuration()
        if found:
            # A file names options as the command line does (`config`, `header`, `api-key`).
            names = {p.name: p.name for p in self.params if p.name}
            for param in self.params:
                for opt in param.opts:
                    if opt.startswith("--") and param.name:
                        names[opt[2:].replace("-", "_")] = param.name
            unknown = sorted(set(found) - set(names))
            if unknown:
                raise UsageProblem(f"unknown option(s) in the run configuration: {', '.join(unknown)}")
            defaults = {names[key]: value for key, value in found.items()}
            for param in self.params:
                if getattr(param, "multiple", False) and isinstance(defaults.get(str(param.name)), str):
                    defaults[str(param.name)] = [defaults[str(param.name)]]
            extra.setdefault("default_map", defaults)
        return super().make_context(info_name, args, parent, **extra)


@click.command("contract", cls=ContractCommand)
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
    help=f"Fuzzed cases per operation and mode (default {DEFAULT_MAX_EXAMPLES}, or {FUZZ_ENV}).",
)
@click.option("--seed", type=int, help="Seed the fuzzer for a reproducible run.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run the tests in this many processes (needs pytest-xdist).",
)
@click.option("-H", "--header", "headers", multiple=True, help="'Name: value' added to every request.")
@click.option(
    "--request-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for a reply."
)
@click.option(
    "--max-response-time", type=click.FloatRange(min=0, min_open=True), help="A slower reply (seconds) fails."
)
@click.option("--rate-limit", help="Send at most this many requests: 10/s, 100/m, 1000/h.")
@click.option("--tls-verify", help="true, false, or a CA bundle to verify the server's certificate with.")
@click.option("--cacert", type=click.Path(dir_okay=False), help="A CA bundle to verify the server with.")
@click.option("--cert", type=click.Path(dir_okay=False), help="A client certificate (PEM) for mutual TLS.")
@click.option(
    "--cert-key", type=click.Path(dir_okay=False), help="The client certificate's key, if not in --cert."
)
@click.option("--proxy", help="A proxy URL for every request.")
@click.option("--checks", help="Count only these checks' failures (comma separated).")
@click.option("--exclude-checks", help="Leave these checks' failures out (comma separated).")
@click.option("--include", multiple=True, help="Run only the tests of these operations or scenarios (globs).")
@click.option(
    "--exclude", multiple=True, help="Leave out the tests of these operations or scenarios (globs)."
)
@click.option(
    "--mode", type=click.Choice(["positive", "negative", "all"]), help="Fuzzing modes (default all)."
)
@click.option("--max-failures", type=click.IntRange(min=1), help="Stop after this many failing tests.")
@click.option(
    "--no-create", is_flag=True, help="Send only requests the deployment must refuse (nothing stored)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would be sent (tests, constraint requests); send nothing."
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
    max_failures: int | None,
    no_create: bool,
    dry_run: bool,
    **passed_on: Any,
) -> None:
    """Judge a deployment of SPEC at --base-url against the spec and its documented behaviour.

    Checks first that the deployment answers (exit 2 with a hint when every reply is 404 or every
    reply to a key is 401/403), then breaks each constraint of the request schema once, runs every
    documented scenario and fuzzes every operation with Schemathesis, and prints failures with curl
    lines, a constraints table and a conformance matrix. Exit 0: conforms; 1: does not; 2: cannot
    run (bad spec, config, key or URL).
    """
    from .target import TargetError, load_target
    from .transport import TransportProblem, make_transport

    with _junit_on_usage_problem(junit_xml, spec, base_url):
        path = spec_path(spec)
        try:
            api_keys = apikeys.resolve(api_keys, api_key_file)
            transport = make_transport(
                **{
                    k: passed_on[k]
                    for k in ("headers", "request_timeout", "tls_verify", "cacert", "cert", "cert_key")
                },
                proxy=passed_on["proxy"],
                rate_limit=passed_on["rate_limit"],
                max_response_time=passed_on["max_response_time"],
            )
            load_target(
                path,
                base_url,
                api_keys,
                config_path,
                max_examples=max_examples,
                seed=seed,
                transport=transport,
                check_reachable=not dry_run,
            )
        except (apikeys.KeyProblem, TargetError, TransportProblem) as exc:
            raise UsageProblem(str(exc)) from exc
        if workers > 1 and importlib.util.find_spec("xdist") is None:
            raise UsageProblem("--workers needs pytest-xdist installed")
        extra = [f"--maxfail={max_failures}"] if max_failures else []
        extra += ["--no-create"] * no_create + (["--dry-run", "--collect-only", "-q"] if dry_run else [])
        extra += ["--answering-checked"]  # by load_target above: its requests need not be sent twice
        for name, option, repeated in PASSED_ON:
            value = passed_on.get(name)
            for one in (value or ()) if repeated else ([value] if value is not None else []):
                extra += [option, str(one)]
        code = run_suite(path, base_url, api_keys, config_path, junit_xml, max_examples, seed, workers, extra)
        if code == 1:
            raise Failed("the deployment does not conform to the spec")
        if code != 0:
            raise UsageProblem(f"the contract suite could not run (pytest exit code {code})")


@contextmanager
def _junit_on_usage_problem(junit_xml: str | None, spec: str, base_url: str) -> Iterator[None]:
    """With --junit-xml, a run that cannot judge anything (exit 2) still leaves a report: the reason
    as an errored test case, added to what pytest wrote or in a file of its own. A report left by an
    earlier run is removed first, so the file always describes this run."""
    if junit_xml:
        Path(junit_xml).unlink(missing_ok=True)
    try:
        yield
    except UsageProblem as exc:
        if junit_xml:
            from .plugin import add_error_case

            add_error_case(Path(junit_xml), str(exc), f"ingestspec contract: {spec} at {base_url}")
        raise


def run_suite(
    spec: Path,
    base_url: str,
    api_keys: tuple[str, ...],
    config_path: str,
    junit_xml: str | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    extra: list[str] | None = None,
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
        *(extra or []),
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
