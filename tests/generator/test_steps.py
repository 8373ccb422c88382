"""`spec.STEPS` is the one table of behaviour steps: the schema, docs, lint and the suite agree with it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.generator.docs.page import STEP_ROLES
from ingestspec.generator.generate.samples import placeholder_values
from ingestspec.generator.spec.loader import bundled_schema, load_spec
from ingestspec.generator.spec.migrate import upgrade
from ingestspec.generator.spec.model import FIXED_ERRORS, PLACEHOLDERS, STEPS, pointer_get, pointer_set
from tests.conftest import REPO, SPECS
from tests.specs import edited, op, x_ingest


def test_the_schema_requires_no_catalogue_key_as_every_fixed_error_has_a_default() -> None:
    catalogue = bundled_schema("x-ingest")["properties"]["errors"]["properties"]["catalogue"]
    assert "required" not in catalogue
    assert sorted(s.fixed_key for s in STEPS if s.fixed_key and s.default) == sorted(FIXED_ERRORS)


def test_the_version_1_schema_required_the_same_fixed_errors() -> None:
    catalogue = bundled_schema("x-ingest-v1")["properties"]["errors"]["properties"]["catalogue"]
    assert sorted(catalogue["required"]) == sorted(FIXED_ERRORS)


def test_every_step_scenario_is_a_contract_scenario() -> None:
    missing = [step.scenario for step in STEPS if step.scenario and step.scenario not in SCENARIOS]
    assert missing == []


def test_every_step_has_a_role_in_the_docs() -> None:
    assert sorted(STEP_ROLES) == sorted(step.name for step in STEPS)


def test_every_placeholder_has_a_sample_value(api: str) -> None:
    assert sorted(placeholder_values(load_spec(SPECS[api]).operations[0])) == sorted(PLACEHOLDERS)


def error_names(schema: Mapping[str, Any], node: Any = None, pointer: str = "") -> Iterator[str]:
    """Pointers (into a block) of every member that names a catalogue error: `error` or `*_error`."""
    node = schema if node is None else node
    if isinstance(node.get("$ref"), str):
        node = pointer_get(schema, node["$ref"][1:])
    for name, sub in (node.get("properties") or {}).items():
        if name == "error" or name.endswith("_error"):
            yield f"{pointer}/{name}"
        elif isinstance(sub, Mapping) and name != "catalogue":
            yield from error_names(schema, sub, f"{pointer}/{name}")


def test_every_error_a_block_can_name_is_answered_by_a_step(tmp_path: Path) -> None:
    names = sorted(error_names(bundled_schema("x-ingest")))
    assert "/identity/missing_error" in names and "/rate_limit/error" in names  # the walk finds them

    def edit(document: dict[str, Any]) -> None:
        block = upgrade(x_ingest(document))
        block["reserved_prefixes"] = {"prefixes": ["internal."], "error": "x"}
        block["rate_limit"] = {"requests": 10, "per_seconds": 1, "error": "x"}
        replay = {"status": 202, "fields": {"id": {"source": "id"}}}
        block["dedupe"] = {"key": {"in": "body", "name": "event"}, "scope": "project", "replay": replay}
        for pointer in names:
            key = "e" + pointer.replace("/", "_")
            pointer_set(block, pointer, key)
            block["errors"]["catalogue"][key] = {"status": 400, "message": key}
        op(document)["x-ingest"] = block

    spec = load_spec(edited(tmp_path, "arsel", edit))
    ingest = spec.ingest_operations[0].ingest
    assert ingest is not None
    answered = {step.error(ingest) for step in STEPS}
    assert sorted(n for n in names if "e" + n.replace("/", "_") not in answered) == []


# The call in a generated `judge()` that takes each request step's decision.
JUDGE_CALLS = {
    "identity_missing": "choose_identity(",
    "envelope": "check_envelope(",
    "reserved": "check_reserved(",
    "payload": "check_payload(",
}


def test_the_server_checks_in_the_order_of_the_steps(api: str) -> None:
    """`STEPS` is the order docs and lint show; the generated `judge()` takes the same order."""
    source = (REPO / "generated_server" / api / "ingest.py").read_text()
    judge = source[source.index("def judge(") :]
    judge = judge[: judge.index("\ndef ", 1)]
    positions = {step: judge.find(call) for step, call in JUDGE_CALLS.items() if call in judge}
    in_steps_order = [step.name for step in STEPS if step.name in positions]
    assert sorted(positions, key=positions.__getitem__) == in_steps_order
    assert {"identity_missing", "envelope", "payload"} <= set(positions)
