"""The item rules of the spec model (`ItemRules`): how one event is read out of a request item, and
what generation and lint take from them (tests/generated_server/test_items.py serves them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestspec.generator.diff import diff_specs
from ingestspec.generator.generate import context
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import (
    field_pointer,
    item_get,
    properties_of,
    required_at,
    schemas_at,
)
from tests.conftest import SPECS

ITEMS = Path(__file__).resolve().parent.parent / "generated_server" / "specs" / "items.yaml"

IDENTIFY = {"type": "identify", "anonymousId": "a-1", "userId": None, "context": {"traits": {"plan": "pro"}}}


def test_a_plain_name_is_the_top_level_member_and_a_pointer_stays_a_pointer() -> None:
    assert field_pointer("userId") == "/userId"
    assert field_pointer("a/b") == "/a~1b"  # a name with a slash is still one member
    assert field_pointer("/context/traits") == "/context/traits"


def test_item_get_walks_objects_only() -> None:
    item = {"context": {"traits": {"plan": "pro"}}, "list": [1]}
    assert item_get(item, "/context/traits/plan") == "pro"
    assert item_get(item, "/context/missing", "none") == "none"
    assert item_get(item, "/list/0", "none") == "none"


def test_schemas_are_found_through_all_of_and_one_of() -> None:
    item = load_spec(ITEMS).operation("batch").item_schema
    [traits] = schemas_at(item, "/context/traits")  # only Identify declares it, inside allOf
    assert traits == {"type": "object"}
    assert schemas_at(item, "/context/nothing") == []
    assert {"type", "event", "userId", "anonymousId"} <= set(properties_of(item))


def test_a_member_is_required_only_when_every_branch_requires_it() -> None:
    op = load_spec(ITEMS).operation("batch")
    assert required_at(op.item_schema, "/type")
    assert not required_at(op.item_schema, "/event")  # identify and page have none
    track = next(k for k in op.ingest.items.kinds if k.value == "track")  # type: ignore[union-attr]
    assert required_at(op.kind_schema(track), "/event")


def test_existing_specs_read_the_same_with_one_kind() -> None:
    for api in ("arsel", "sendrealm"):
        ingest = load_spec(SPECS[api]).ingest_operations[0].ingest
        assert ingest is not None
        rules = ingest.items
        assert rules.discriminator is None and [k.value for k in rules.kinds] == [None]
        assert all(len(pointer.split("/")) == 2 for _, pointer, _ in rules.locations())


def test_kinds_take_the_openapi_discriminator_and_the_block_rules_they_do_not_say() -> None:
    rules = load_spec(ITEMS).operation("batch").ingest.items  # type: ignore[union-attr]
    assert rules.discriminator == "/type"
    kinds = {k.value: k for k in rules.kinds}
    assert list(kinds) == ["track", "identify", "page"]
    assert (kinds["track"].event, kinds["identify"].event_name, kinds["page"].event_name) == (
        "/event",
        "identify",
        "page",
    )
    assert kinds["identify"].payload.pointer == "/context/traits"
    assert kinds["identify"].payload.mismatch_error == "properties_invalid"  # the block's
    assert kinds["page"].identity == kinds["track"].identity
    assert (kinds["identify"].own, kinds["page"].own) == (("event", "payload"), ("event",))


def test_the_model_reads_an_item_as_the_server_does() -> None:
    rules = load_spec(ITEMS).operation("batch").ingest.items  # type: ignore[union-attr]
    read = rules.read(IDENTIFY)
    assert read is not None
    assert (read.event, read.payload) == ("identify", {"plan": "pro"})
    assert read.identity is not None and (read.identity[0].kind, read.identity[1]) == ("anonymous", "a-1")
    assert rules.read({"type": "alias"}) is None


PATHS = ITEMS.parent / "paths.yaml"


def test_values_from_path_parameters_are_read_from_the_request_path() -> None:
    spec = load_spec(PATHS)
    assert field_pointer("$request.path.person") == "$request.path.person"  # kept as written
    assert field_pointer("") == ""  # the empty pointer: the whole item
    profile = spec.operation("updateProfile").ingest.items  # type: ignore[union-attr]
    read = profile.read({"email": "a@example.com"}, {"person": "p 1"})
    assert read is not None
    assert (read.event, read.payload) == ("profile_updated", {"email": "a@example.com"})
    assert read.identity is not None and (read.identity[0].kind, read.identity[1]) == ("person", "p 1")
    stream = spec.operation("trackStream").ingest.items  # type: ignore[union-attr]
    assert [(where, name) for where, name, _ in stream.from_path()] == [("/event_field", "stream")]
    assert stream.read({"userId": "u"}, {"stream": "views"}).event == "views"  # type: ignore[union-attr]
    assert spec.operation("trackPerson").ingest.identity.always_named  # type: ignore[union-attr]


def test_a_path_value_is_read_by_its_route_slot_and_always_present() -> None:
    op = load_spec(PATHS).operation("trackPerson")
    reads = context.item_reads(op)
    assert reads["calls"]["identity"] == "choose_identity(body, path)"
    person, user = context.kind_readers(op)[0].identity
    assert (person.present, person.value) == ("", "path['p0']")
    assert user.present == "'userId' in body"
    assert context.read_expr("", "{}") == "body"
    # An operation reading nothing from its path is generated as before.
    assert (
        context.item_reads(load_spec(ITEMS).operation("track"))["calls"]["identity"]
        == "choose_identity(body)"
    )


def test_top_level_fields_are_read_as_before_and_deeper_ones_by_at() -> None:
    assert context.read_expr("/userId") == "body.get('userId')"
    assert context.read_expr("/properties", "{}") == "body.get('properties', {})"
    assert context.read_expr("/context/traits", "{}") == "at(body, ('context', 'traits'), {})"


def test_a_nullable_identity_is_present_only_when_not_null() -> None:
    op = load_spec(ITEMS).operation("batch")
    reader = next(r for r in context.kind_readers(op) if r.value == "track")
    user, anonymous = reader.identity
    assert user.present == "'userId' in body"
    assert anonymous.present == "(value := body.get('anonymousId')) is not None"


def test_an_operation_of_one_kind_calls_its_reader_directly() -> None:
    op = load_spec(SPECS["sendrealm"]).ingest_operations[0]
    reads = context.item_reads(op)
    assert reads["discriminator"] is None and not reads["nested"]
    assert "reader." not in "".join(reads["calls"].values())
    mixed = context.item_reads(load_spec(ITEMS).operation("batch"))
    assert mixed["nested"] and mixed["calls"]["identity"] == "reader.identity(body)"


def _items(tmp_path: Path, edit: Any) -> Path:
    document = yaml.safe_load(ITEMS.read_text())
    edit(document)
    path = tmp_path / "items.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _batch(document: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = document["paths"]["/batch"]["post"]["x-ingest"]
    return block


def _kind(document: dict[str, Any], value: str) -> dict[str, Any]:
    kind: dict[str, Any] = _batch(document)["kinds"]["by_value"][value]
    return kind


def _unshare(document: dict[str, Any]) -> None:
    """Give /batch its own kinds and schemas, so an edit does not reach /import through YAML anchors."""
    document["paths"]["/batch"]["post"]["x-ingest"] = yaml.safe_load(yaml.safe_dump(_batch(document)))


@pytest.mark.parametrize(
    ("edit", "pointer", "fragment"),
    [
        (
            lambda d: _kind(d, "identify").update(payload={"field": "/context/trait"}),
            "/paths/~1batch/post/x-ingest/kinds/by_value/identify/payload/field",
            "x-ingest names request field '/context/trait', which the batch item's schema lacks "
            "(did you mean 'traits'?)",
        ),
        (
            lambda d: d["components"]["schemas"]["Track"]["allOf"][1].update(required=["type"]),
            "/paths/~1batch/post/x-ingest/kinds/by_value/track/event_field",
            "event field 'event' of a 'track' item must be in the batch item schema's `required`",
        ),
        (
            lambda d: _batch(d)["batch"].pop("acceptance"),
            "/paths/~1batch/post/x-ingest/batch",
            "the batch answer cannot say which items were refused",
        ),
        (
            lambda d: _batch(d)["identity"]["fields"][1].update(name="/context/anonymousId"),
            "/paths/~1batch/post/x-ingest/identity/fields/1/name",
            "x-ingest names request field '/context/anonymousId', which the batch item's schema lacks",
        ),
    ],
    ids=["pointer-unresolved", "optional-event-field", "constant-batch-answer", "inherited-identity"],
)
def test_lint_refuses_item_rules_at_their_location(
    tmp_path: Path, edit: Any, pointer: str, fragment: str
) -> None:
    def edited(document: dict[str, Any]) -> None:
        _unshare(document)
        edit(document)

    problems = lint(_items(tmp_path, edited))
    assert [(p.pointer, fragment in p.message) for p in problems if "batch" in p.pointer] == [
        (pointer, True)
    ], [str(p) for p in problems]


def _import(document: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = document["paths"]["/import"]["post"]["x-ingest"]
    return block


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # A plain name and its pointer are the same field.
        (lambda d: _batch(d).update(event_field="/event", occurred_at_field="/timestamp"), set()),
        (
            lambda d: _import(d)["batch"].update(acceptance="all_or_nothing"),
            {("batch-acceptance-changed", True, False)},
        ),
        (lambda d: _batch(d)["kinds"]["by_value"].pop("page"), {("kind-removed", True, False)}),
        (
            lambda d: _batch(d)["kinds"]["by_value"].update(screen={"event_name": "screen"}),
            {("kind-added", False, True)},
        ),
        (
            lambda d: _kind(d, "identify").update(payload={"field": "/traits"}),
            {("kind-rules-changed", True, True)},
        ),
    ],
    ids=["pointer-of-a-name", "acceptance", "kind-removed", "kind-added", "kind-rules"],
)
def test_diff_compares_item_rules_by_meaning(
    tmp_path: Path, edit: Any, expected: set[tuple[str, bool, bool]]
) -> None:
    def edited(document: dict[str, Any]) -> None:
        _unshare(document)
        edit(document)

    changes = diff_specs(load_spec(ITEMS), load_spec(_items(tmp_path, edited))).changes
    assert {(c.kind, c.breaking_for_clients, c.breaking_for_servers) for c in changes} == expected


def test_the_suite_reads_a_kind_schema_through_the_model_s_object_fields(tmp_path: Path) -> None:
    # A member declared in two allOf parts keeps both parts' keywords (object_fields' rule), and a
    # part's additionalProperties holds for the merged schema.
    from ingestspec.contract_tests.bodies import event_schema

    def edit(document: dict[str, Any]) -> None:
        track = document["components"]["schemas"]["Track"]["allOf"][1]
        track["properties"]["userId"] = {"pattern": "^u"}
        track["additionalProperties"] = False

    schema = event_schema(load_spec(_items(tmp_path, edit)).operation("batch"))
    assert schema["properties"]["userId"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^u",
    }
    assert schema["additionalProperties"] is False
    assert {"type", "event"} <= set(schema["required"])
    assert "allOf" not in schema and "discriminator" not in schema


def _paths_op(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    # Its own x-ingest block: an edit does not reach the others through YAML anchors.
    operation["x-ingest"] = yaml.safe_load(yaml.safe_dump(operation["x-ingest"]))
    return operation


@pytest.mark.parametrize(
    ("edit", "pointer", "fragment"),
    [
        (
            lambda d: _paths_op(d, "/people/{person}/events")["x-ingest"]["identity"]["fields"][0].update(
                name="$request.path.persn"
            ),
            "/paths/~1people~1{person}~1events/post/x-ingest/identity/fields/0/name",
            "x-ingest reads path parameter 'persn', which the operation does not declare "
            "(did you mean 'person'?)",
        ),
        (
            lambda d: (
                _paths_op(d, "/streams/{stream}/events")["parameters"].append(
                    {"name": "channel", "in": "query", "schema": {"type": "string"}}
                )
                or _paths_op(d, "/streams/{stream}/events")["x-ingest"].update(
                    event_field="$request.path.channel"
                )
            ),
            "/paths/~1streams~1{stream}~1events/post/x-ingest/event_field",
            "x-ingest reads path parameter 'channel', a query parameter, not a path one",
        ),
        (
            lambda d: _paths_op(d, "/streams/{stream}/events")["x-ingest"]["payload"].update(
                field="$request.path.stream"
            ),
            "/paths/~1streams~1{stream}~1events/post/x-ingest/payload/field",
            "payload/field cannot be read from a path parameter",
        ),
        (
            lambda d: _paths_op(d, "/people/{person}/events")["x-ingest"]["identity"]["fields"][0].update(
                name="person"
            ),
            "/paths/~1people~1{person}~1events/post/x-ingest/identity/fields/0/name",
            "'person' is a path parameter of the operation; name it `$request.path.person`",
        ),
        (
            lambda d: (
                _paths_op(d, "/people/{person}/events")["x-ingest"]["identity"].update(mode="first_present")
                or _paths_op(d, "/people/{person}/events")["x-ingest"]["identity"]["fields"].reverse()
            ),
            "/paths/~1people~1{person}~1events/post/x-ingest/identity/fields/1/name",
            "under first_present it comes first",
        ),
    ],
    ids=[
        "undeclared",
        "not-in-the-path",
        "payload-from-the-path",
        "plain-name-of-a-path-parameter",
        "path-identity-after-a-body-one",
    ],
)
def test_lint_refuses_path_values_at_their_location(
    tmp_path: Path, edit: Any, pointer: str, fragment: str
) -> None:
    document = yaml.safe_load(PATHS.read_text())
    edit(document)
    path = tmp_path / "paths.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    problems = [p for p in lint(path) if p.severity == "error"]
    assert [(p.pointer, fragment in p.message) for p in problems] == [(pointer, True)], [
        str(p) for p in problems
    ]
