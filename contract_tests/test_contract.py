"""The contract suite's tests: one per documented scenario, one per fuzzing mode, one per documented
error example, each parametrised over the spec's operations (see `plugin.pytest_generate_tests`).
"""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
import pytest

from ingestspec.contract_tests import constraints
from ingestspec.contract_tests.exchange import NO_ANSWER, NoAnswer
from ingestspec.contract_tests.fuzz import FuzzResult, fuzz
from ingestspec.contract_tests.records import Record, Recorder
from ingestspec.contract_tests.scenarios import SCENARIOS, Scenario, example_candidates, provokers
from ingestspec.contract_tests.session import Session, Skip
from ingestspec.contract_tests.target import Target

# How many distinct fuzzing failures a test message lists.
SHOWN_FAILURES = 10


def no_answer(recorder: Recorder, operation: str, source: str, exc: NoAnswer) -> NoReturn:
    """A request that got no reply: a line in the report's failures (status 0) and a failed test
    whose message starts with `NO_ANSWER` (an `<error>` in the JUnit file)."""
    recorder.add(Record(operation, source, 0, "no answer", [("no_answer", str(exc))]))
    pytest.fail(f"{NO_ANSWER} {exc}", pytrace=False)


def test_scenario(
    scenario_case: tuple[Any, Scenario],
    contract_target: Target,
    contract_client: httpx.Client,
    contract_recorder: Recorder,
) -> None:
    op, sc = scenario_case
    session = Session(contract_target, op, sc.name, contract_client, contract_recorder)
    try:
        sc.run(session)
    except Skip as exc:
        pytest.skip(str(exc))
    except NoAnswer as exc:
        no_answer(contract_recorder, op.operation_id, sc.name, exc)
    if session.failures:
        pytest.fail(f"{sc.doc}\n{session.report()}", pytrace=False)


def test_constraints(
    constraint_case: Any,
    contract_target: Target,
    contract_client: httpx.Client,
    contract_recorder: Recorder,
) -> None:
    """The deterministic phase: each constraint of the request schema broken once, each bound inside."""
    session = Session(
        contract_target, constraint_case, constraints.SOURCE, contract_client, contract_recorder
    )
    try:
        constraints.run(session)
    except Skip as exc:
        pytest.skip(str(exc))
    except NoAnswer as exc:
        no_answer(contract_recorder, constraint_case.operation_id, constraints.SOURCE, exc)
    if session.failures:
        pytest.fail(
            f"{len(session.failures)} constraint request(s) answered wrongly\n{session.report()}",
            pytrace=False,
        )


def test_fuzz(
    fuzz_case: tuple[Any, str],
    contract_target: Target,
    contract_recorder: Recorder,
    pytestconfig: pytest.Config,
) -> None:
    op, mode = fuzz_case
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def progress(result: FuzzResult) -> None:
        # Straight to the terminal, past pytest's capture: fuzzing can take a while.
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"  fuzzing {op.operation_id} {mode}: {result.cases} of {contract_target.max_examples} "
                f"cases, {len(result.failures)} failure(s) so far"
            )

    try:
        result = fuzz(contract_target, op, mode, contract_recorder, progress)
    except NoAnswer as exc:
        no_answer(contract_recorder, op.operation_id, f"fuzz:{mode}", exc)
    if result.failures:
        lines = [f"{len(result.failures)} failure(s) in {result.cases} {mode} cases; distinct ones:"]
        for item, failure in result.distinct()[:SHOWN_FAILURES]:
            lines += [f"[{failure.check}] {failure.message}", f"    reproduce: {item.curl()}"]
        pytest.fail("\n".join(lines), pytrace=False)


def test_documented_error_example(
    example_case: tuple[Any, int, str, Any],
    contract_target: Target,
    contract_client: httpx.Client,
    contract_recorder: Recorder,
) -> None:
    """Some scenario provokes the documented error, and the reply is its exact catalogue body."""
    op, status, name, value = example_case
    candidates = example_candidates(op, status, value)
    if not candidates:
        message = f"the documented {status} example {name!r} contradicts the catalogue: {value!r}"
        # A line in the report's failures (status 0: no reply, a finding about the spec itself).
        contract_recorder.add(
            Record(
                op.operation_id,
                f"example:{status}-{name}",
                0,
                "documented_example",
                [("documented_example_in_catalogue", message)],
            )
        )
        pytest.fail(message, pytrace=False)
    reasons = []
    for key, sc in [(k, SCENARIOS[name]) for k in candidates for name in provokers(op).get(k, ())]:
        reason = sc.skip_reason(contract_target, op)
        if reason:
            reasons.append(f"{sc.name}: {reason}")
            continue
        session = Session(contract_target, op, f"example:{status}-{name}", contract_client, contract_recorder)
        try:
            sc.run(session)
        except Skip as exc:
            reasons.append(f"{sc.name}: {exc}")
            continue
        except NoAnswer as exc:
            no_answer(contract_recorder, op.operation_id, session.scenario, exc)
        tried = [p for p in session.probes if p.expect is not None and p.expect.error == key]
        if not tried:
            reasons.append(f"{sc.name} has no way to provoke {key!r} with the given projects")
            continue
        failed = {id(item) for item, _ in session.failures}
        if any(id(p) not in failed for p in tried):
            return
        pytest.fail(f"{sc.name} did not produce {key!r} exactly:\n{session.report()}", pytrace=False)
    for key in candidates:
        if key not in provokers(op):
            reasons.append(f"no scenario provokes {key!r}")
    pytest.skip(f"cannot provoke the documented {status} {name!r} here: " + "; ".join(reasons))
