"""Fields x-ingest names by a JSON Pointer below the top level, as Klaviyo's published file needs
(`/data/attributes/metric/data/attributes/name`): the suite builds its bodies with each field at its
pointer, the objects on the way filled as their schemas require, offline (no server)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ingestspec.contract_tests.bodies import Bodies
from ingestspec.contract_tests.constraints import derive
from ingestspec.contract_tests.payloads import is_valid
from ingestspec.contract_tests.target import Target, load_target
from ingestspec.generator.spec.model import item_get

KLAVIYO = Path(__file__).resolve().parents[1] / "vendor_files" / "klaviyo"


def klaviyo() -> tuple[Target, Bodies]:
    config = yaml.safe_load((KLAVIYO / "config.yaml").read_text())
    keys = tuple(project["api_keys"][0] for project in config["projects"][:2])
    target = load_target(
        KLAVIYO / "openapi.json", "http://127.0.0.1:9", keys, KLAVIYO / "config.yaml", check_reachable=False
    )
    return target, Bodies(target, target.spec.ingest_operations[0])


def test_a_valid_body_has_each_field_at_its_pointer_and_meets_the_schema() -> None:
    target, bodies = klaviyo()
    event = bodies.accepted_event(target.project)
    assert event is not None
    body = bodies.valid(event)
    assert not [k for k in body if k.startswith("/")], body  # no member named like a pointer
    assert body["data"]["attributes"]["metric"]["data"]["attributes"]["name"] == event.name
    assert body["data"]["type"] == "event"  # what the objects on the way require
    assert item_get(body, "/data/attributes/properties") == event.payload
    assert str(item_get(body, "/data/attributes/profile/data/attributes/email")).endswith("@example.com")
    assert is_valid(bodies.schema, body)
    assert bodies.is_marked(body)
    nobody = bodies.without_identity(body)
    assert item_get(nobody, "/data/attributes/profile/data/attributes/email") is None
    assert item_get(body, "/data/attributes/profile/data/attributes/email") is not None  # a copy


def test_constraints_leave_alone_the_objects_an_identity_is_named_inside() -> None:
    target, bodies = klaviyo()
    event = bodies.accepted_event(target.project)
    assert event is not None
    wheres = {c.where for c in derive(bodies, bodies.valid(event))}
    assert "/data/attributes/metric/data/attributes/name" in wheres  # the event name is judged
    assert not {"/data", "/data/attributes", "/data/attributes/profile"} & wheres, wheres
