"""The pytest side of the suite: options, the run-wide fixtures, test parametrisation from the spec,
and the end-of-run report (failures by operation and check, the conformance matrix).

`contract_tests/conftest.py` loads this, so `pytest contract_tests --spec ... --base-url ...
--api-key ... --config ...` runs the suite; `ingestspec contract` runs the same thing.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from ingestspec.generator.spec.model import Operation

from . import apikeys
from .catalogue import documented_error_examples
from .constraints import skip_reason as constraints_skip_reason
from .exchange import NO_ANSWER
from .fuzz import MODES
from .fuzz import skip_reason as fuzz_skip_reason
from .records import RECORDS_ENV, Recorder, read_records
from .report import (
    render_config_hint,
    render_constraints,
    render_failures,
    render_fuzzing,
    render_matrix,
)
from .scenarios import SCENARIOS
from .target import RUN_ENV, SEED_ENV, Target, TargetError, load_target
from .transport import TransportProblem, make_transport

_TARGET = pytest.StashKey[Target]()
_OWNED = pytest.StashKey[tuple[Path, dict[str, str | None]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ingestspec contract", "ingestspec contract suite")
    group.addoption("--spec", help="the OpenAPI file of the API under test")
    group.addoption("--base-url", help="the API's base URL, as a servers entry would give it")
    group.addoption(
        "--api-key",
        action="append",
        default=[],
        help="an API key; a second one (another project) enables isolation checks",
    )
    group.addoption(
        "--api-key-file",
        default=None,
        help=f"a file of API keys, one a line (else {apikeys.ENV}, {apikeys.ENV}_2)",
    )
    group.addoption("--config", dest="contract_config", help="the deployment's server configuration file")
    group.addoption("--max-examples", type=int, default=None, help="fuzzed cases per operation and mode")
    group.addoption("--seed", dest="contract_seed", type=int, default=None, help="seed for the fuzzer")
    group.addoption(
        "--header",
        dest="contract_headers",
        action="append",
        default=[],
        help="'Name: value' on every request",
    )
    group.addoption(
        "--request-timeout", type=float, default=None, help="seconds to wait for a reply (default 30)"
    )
    group.addoption("--max-response-time", type=float, default=None, help="a slower reply (seconds) fails")
    group.addoption("--rate-limit", default=None, help="at most this many requests: 10/s, 100/m, 1000/h")
    group.addoption(
        "--tls-verify", default=None, help="true, false, or a CA bundle to verify the server with"
    )
    group.addoption("--cacert", default=None, help="a CA bundle to verify the server with")
    group.addoption("--cert", dest="contract_cert", default=None, help="a client certificate (PEM)")
    group.addoption("--cert-key", default=None, help="the client certificate's key (PEM), if not in --cert")
    group.addoption("--proxy", dest="contract_proxy", default=None, help="a proxy URL for every request")
    group.addoption(
        "--checks", dest="contract_checks", default=None, help="only these checks, comma separated"
    )
    group.addoption("--exclude-checks", default=None, help="leave these checks out, comma separated")
    group.addoption(
        "--include",
        dest="contract_include",
        action="append",
        default=[],
        help="only tests of these operations or scenarios (globs)",
    )
    group.addoption(
        "--exclude",
        dest="contract_exclude",
        action="append",
        default=[],
        help="leave out tests of these operations or scenarios (globs)",
    )
    group.addoption(
        "--mode",
        dest="contract_mode",
        choices=["positive", "negative", "all"],
        default="all",
        help="fuzzing modes",
    )
    group.addoption(
        "--no-create", action="store_true", default=False, help="send only what the deployment must refuse"
    )
    group.addoption(
        "--answering-checked",
        action="store_true",
        default=False,
        help="the deployment was seen answering before pytest started (`ingestspec contract` checks)",
    )
    group.addoption(
        "--dry-run",
        dest="contract_dry_run",
        action="store_true",
        default=False,
        help="print what would be sent; send nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("--spec", None)
    if spec is None:
        raise pytest.UsageError("contract_tests needs --spec, --base-url, --api-key and --config")
    is_worker = hasattr(config, "workerinput")
    if not is_worker:
        # A fresh run id and records directory for this run; workers inherit both from the environment.
        saved = {name: os.environ.get(name) for name in (RUN_ENV, SEED_ENV, RECORDS_ENV)}
        directory = Path(tempfile.mkdtemp(prefix="ingestspec-contract-"))
        os.environ.pop(RUN_ENV, None)
        os.environ.pop(SEED_ENV, None)
        os.environ[RECORDS_ENV] = str(directory)
        config.stash[_OWNED] = (directory, saved)
    dry_run = bool(config.getoption("contract_dry_run"))
    try:
        keys = apikeys.resolve(config.getoption("--api-key") or (), config.getoption("--api-key-file"))
    except apikeys.KeyProblem as exc:
        raise pytest.UsageError(str(exc)) from exc
    try:
        target = load_target(
            spec,
            config.getoption("--base-url") or "",
            keys,
            config.getoption("contract_config") or "",
            max_examples=config.getoption("--max-examples"),
            seed=config.getoption("contract_seed"),
            check_reachable=not is_worker and not dry_run and not config.getoption("--answering-checked"),
            transport=make_transport(
                headers=config.getoption("contract_headers"),
                request_timeout=config.getoption("--request-timeout"),
                tls_verify=config.getoption("--tls-verify"),
                cacert=config.getoption("--cacert"),
                cert=config.getoption("contract_cert"),
                cert_key=config.getoption("--cert-key"),
                proxy=config.getoption("contract_proxy"),
                rate_limit=config.getoption("--rate-limit"),
                max_response_time=config.getoption("--max-response-time"),
            ),
            checks=_names(config.getoption("contract_checks")),
            excluded_checks=_names(config.getoption("--exclude-checks")),
            no_create=config.getoption("--no-create"),
        )
    except (TargetError, TransportProblem) as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[_TARGET] = target


def pytest_unconfigure(config: pytest.Config) -> None:
    owned = config.stash.get(_OWNED, None)
    if owned is None:
        return
    target = config.stash.get(_TARGET, None)
    xml = getattr(config.option, "xmlpath", None)
    if target is not None and xml and Path(xml).is_file():
        rewrite_junit(Path(xml), target)
    directory, saved = owned
    shutil.rmtree(directory, ignore_errors=True)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash.get(_TARGET, None)
    if target is None:
        return []
    projects = ", ".join(p.id for p in target.projects)
    return [
        f"contract: {target.spec.title} {target.spec.version} at {target.base_url} (projects: {projects})",
        f"contract: run {target.run_id}; every created event is marked contract-test-{target.run_id}; "
        f"{target.max_examples} fuzzed cases per operation and mode, seed {target.seed} (--seed to repeat)",
    ]


def unjudged(target: Target, op: Operation) -> str | None:
    """Why the suite judges none of `op`'s requests, if it does not: nothing given names the first
    project on it (a keyless collector's token, or an API key); skipped, not failed."""
    return target.missing_for(op)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    target = metafunc.config.stash.get(_TARGET, None)
    if target is None:
        return
    ops = target.spec.ingest_operations
    if "scenario_case" in metafunc.fixturenames:
        params = []
        for op in ops:
            for sc in SCENARIOS.values():
                reason = unjudged(target, op) or sc.skip_reason(target, op)
                marks = [pytest.mark.skip(reason=reason)] if reason else []
                params.append(pytest.param((op, sc), id=f"{op.operation_id}-{sc.name}", marks=marks))
        metafunc.parametrize("scenario_case", params)
    if "constraint_case" in metafunc.fixturenames:
        params = []
        for op in ops:
            reason = unjudged(target, op) or constraints_skip_reason(op)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(op, id=op.operation_id, marks=marks))
        metafunc.parametrize("constraint_case", params)
    if "fuzz_case" in metafunc.fixturenames:
        params = []
        for op in target.spec.operations:
            for mode in MODES:
                reason = unjudged(target, op) or fuzz_skip_reason(target, op, mode)
                marks = [pytest.mark.skip(reason=reason)] if reason else []
                params.append(pytest.param((op, mode), id=f"{op.operation_id}-{mode}", marks=marks))
        metafunc.parametrize("fuzz_case", params)
    if "example_case" in metafunc.fixturenames:
        params = [
            pytest.param(
                (op, status, name, value),
                id=f"{op.operation_id}-{status}-{name}",
                marks=[pytest.mark.skip(reason=reason)] if (reason := unjudged(target, op)) else [],
            )
            for op in ops
            for status, name, value in documented_error_examples(op)
        ]
        metafunc.parametrize("example_case", params)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Every report of a test (the console's and the JUnit file's) with the run's keys masked."""
    report: pytest.TestReport = yield
    if report.longrepr is not None:
        text = str(report.longrepr)
        if NO_ANSWER in text:
            # The cause is in the message already; the chain of exceptions around it is noise.
            text = text[text.rindex(NO_ANSWER) :]
            report.longrepr = text
        if apikeys.masks(text):
            report.longrepr = apikeys.mask(text)
    report.sections = [(title, apikeys.mask(content)) for title, content in report.sections]
    return report


@pytest.fixture(scope="session")
def contract_target(pytestconfig: pytest.Config) -> Target:
    """The deployment under test."""
    return pytestconfig.stash[_TARGET]


@pytest.fixture(scope="session")
def contract_client(contract_target: Target) -> Iterator[httpx.Client]:
    transport = contract_target.transport
    with transport.client(headers=dict(transport.headers)) as client:
        yield client


@pytest.fixture(scope="session")
def contract_recorder() -> Recorder:
    return Recorder.from_environment()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    target = config.stash.get(_TARGET, None)
    owned = config.stash.get(_OWNED, None)
    if target is None or owned is None:
        return
    records = list(read_records(owned[0]))
    terminalreporter.section("ingestspec contract")
    terminalreporter.write_line(
        f"{len(records)} replies judged; events created by this run are marked contract-test-{target.run_id}"
    )
    terminalreporter.write_line(render_constraints(records))
    terminalreporter.write_line(render_fuzzing(records))
    terminalreporter.write_line(render_failures(records))
    hint = render_config_hint(target.spec, records, str(target.config.path))
    if hint:
        terminalreporter.write_line(hint)
    terminalreporter.write_line("")
    terminalreporter.write_line(render_matrix(target.spec, records))


def rewrite_junit(path: Path, target: Target) -> None:
    """The JUnit file as CI wants it: each suite named after the spec and the target, with the seed,
    run id and base URL as properties; a test that got no reply an `<error>`, not a `<failure>`;
    and no API key anywhere (pytest wrote it after every hook of ours had run)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(apikeys.mask(path.read_text(encoding="utf-8")))
    tree = ElementTree.ElementTree(root)
    for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
        suite.set("name", f"ingestspec contract: {target.spec.name} at {target.base_url}")
        properties = suite.find("properties")
        if properties is None:
            properties = ElementTree.Element("properties")
            suite.insert(0, properties)
        for name, value in (
            ("spec", str(target.spec.path)),
            ("base_url", target.base_url),
            ("run_id", target.run_id),
            ("seed", str(target.seed)),
            ("marker", f"contract-test-{target.run_id}"),
        ):
            ElementTree.SubElement(properties, "property", name=name, value=value)
        moved = 0
        for case in suite.iter("testcase"):
            failure = case.find("failure")
            if failure is not None and NO_ANSWER in (failure.get("message") or "")[:20]:
                failure.tag = "error"
                moved += 1
        if moved:
            suite.set("failures", str(int(suite.get("failures", "0")) - moved))
            suite.set("errors", str(int(suite.get("errors", "0")) + moved))
    tree.write(path, encoding="utf-8", xml_declaration=True)


def add_error_case(path: Path, reason: str, suite_name: str) -> None:
    """Add one errored test case saying why the suite could not run to the JUnit file at `path`
    (written anew when the run wrote none): CI then shows a red test with the reason, not a
    missing report."""
    from xml.etree import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        root = ElementTree.Element("testsuites")
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        suite = ElementTree.SubElement(root, "testsuite", name=suite_name, tests="0", errors="0")
    case = ElementTree.SubElement(suite, "testcase", classname="ingestspec.contract", name="the suite runs")
    reason = apikeys.mask(reason)
    ElementTree.SubElement(case, "error", message=reason).text = reason
    for counter in ("tests", "errors"):
        suite.set(counter, str(int(suite.get(counter, "0")) + 1))
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


def test_names(item: pytest.Item) -> set[str]:
    """What --include and --exclude match for a test: its operation, its scenario (`constraints`,
    `fuzz`, `fuzz-positive`, `documented_error_example`) and its full id."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {item.name}
    param = next(iter(callspec.params.values()))
    op = param[0] if isinstance(param, tuple) else param
    names = {item.name, callspec.id}
    if not hasattr(op, "operation_id"):
        # An empty parametrisation (no documented error example, say).
        return names
    names.add(op.operation_id)
    kind = item.name.split("[", 1)[0].removeprefix("test_")
    if kind == "scenario":
        names.add(param[1].name)
    elif kind == "fuzz":
        names |= {"fuzz", f"fuzz-{param[1]}"}
    else:
        names.add(kind)
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--include, --exclude, --mode and --no-create choose the tests; deselected ones are not run."""
    include = config.getoption("contract_include") or []
    exclude = config.getoption("contract_exclude") or []
    mode = config.getoption("contract_mode")
    no_create = config.getoption("--no-create")
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        names = test_names(item)
        chosen = not include or any(fnmatch.fnmatchcase(n, p) for n in names for p in include)
        chosen = chosen and not any(fnmatch.fnmatchcase(n, p) for n in names for p in exclude)
        if mode != "all" and "fuzz" in names and f"fuzz-{mode}" not in names:
            chosen = False
        if no_create and ("fuzz-positive" in names or "documented_error_example" in names):
            chosen = False
        (kept if chosen else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """--dry-run: print the constraint phase's requests as curl lines (the other tests are listed by
    --collect-only)."""
    config = session.config
    target = config.stash.get(_TARGET, None)
    if target is None or not config.getoption("contract_dry_run"):
        return
    from .constraints import planned

    writer = config.get_terminal_writer()
    for op in target.spec.ingest_operations:
        writer.line(f"# {op.operation_id}: the constraint phase would send")
        for label, curl in planned(target, op):
            writer.line(f"# {label}")
            writer.line(curl)
