"""Each check asserts one property; judged here on hand-made replies to the Arsel and Sendrealm specs."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from ingestspec.contract_tests.checks import (
    CHECKS,
    CheckContext,
    event_id_problem,
    is_uuid7,
    run_checks,
    uuid7_millis,
)
from ingestspec.contract_tests.exchange import Expectation, Probe, Reply
from ingestspec.contract_tests.target import load_target
from tests.contract.conftest import offline_target

UUID7 = "01957e3a-4b5c-7d8e-9f0a-1b2c3d4e5f6a"


def judged(
    api: str, status: int, body: object, expect: Expectation | None, media_type: str | None = None
) -> set[str]:
    target = offline_target(api)
    op = target.spec.ingest_operations[0]
    assert op.ingest is not None
    media = media_type or (op.ingest.errors.media_type if status >= 400 else "application/json")
    headers = {"content-type": media}
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    probe = Probe("test", op, op.method, target.url(op), {}, b"{}", expect)
    probe.reply = Reply(status, headers, orjson.dumps(body))
    return {failure.check for failure in run_checks(CheckContext(target, op), probe)}


def error(api: str, key: str, **params: object) -> tuple[int, dict[str, object], Expectation]:
    op = offline_target(api).spec.ingest_operations[0]
    assert op.ingest is not None
    status = op.ingest.errors.catalogue[key].status
    return status, op.ingest.errors.render(key, params), Expectation(status, error=key, params=params)


def test_checks_are_registered_by_name() -> None:
    assert {"status_code_expected", "error_body_exact", "success_body_shape", "event_id_format"} <= set(
        CHECKS
    )


def test_the_exact_catalogue_body_passes_every_check(api: str) -> None:
    status, body, expect = error(api, "payload_invalid", event="order.completed")
    assert judged(api, status, body, expect) == set()


def test_details_may_be_added_to_an_error_body() -> None:
    status, body, expect = error("arsel", "invalid_request")
    body["details"] = [{"path": "/event", "message": "required"}]
    assert judged("arsel", status, body, expect) == set()


def test_an_edited_message_or_status_or_media_type_fails() -> None:
    status, body, expect = error("arsel", "event_not_defined", event="a.b")
    assert "error_body_exact" in judged("arsel", status, {**body, "message": "Nope."}, expect)
    assert "status_code_expected" in judged("arsel", 400, {**body, "status_code": 400}, expect)
    assert "error_media_type" in judged("arsel", status, body, expect, media_type="text/plain")


def test_an_error_body_outside_the_catalogue_fails_even_unexpected() -> None:
    assert "error_body_in_catalogue" in judged("sendrealm", 400, {"error": "bad"}, None)


def test_a_success_body_must_have_exactly_the_shape_fields() -> None:
    target = offline_target("arsel")
    ingest = target.spec.ingest_operations[0].ingest
    assert ingest is not None
    expect = Expectation(202, shape=ingest.response, values={"event": "order.completed"})
    assert judged("arsel", 202, {"id": UUID7, "status": "accepted"}, expect) == set()
    assert "success_body_shape" in judged("arsel", 202, {"id": UUID7, "status": "queued"}, expect)
    assert "success_body_shape" in judged("arsel", 202, {"id": UUID7, "status": "accepted", "x": 1}, expect)
    assert "event_id_format" in judged("arsel", 202, {"id": str(uuid.uuid4()), "status": "accepted"}, expect)


def test_uuid7_recognition() -> None:
    assert is_uuid7(UUID7)
    assert not is_uuid7(UUID7.upper())
    assert not is_uuid7(str(uuid.uuid4()))
    assert uuid7_millis(UUID7) == 0x01957E3A4B5C


ULID = "01KBS3Z4J9QX5TQ1W6YV8C2N7M"


@pytest.mark.parametrize(
    ("value", "prefix", "id_format", "problem"),
    [
        (UUID7, "", "uuid7", None),
        ("trk_" + UUID7, "trk_", "uuid7", None),
        (UUID7, "trk_", "uuid7", "does not start with the id prefix 'trk_'"),
        (
            "trk_" + str(uuid.UUID(int=7, version=4)),
            "trk_",
            "uuid7",
            "is not a UUIDv7 after the prefix 'trk_'",
        ),
        ("evt_" + str(uuid.UUID(int=7, version=4)), "evt_", "uuid4", None),
        ("evt_" + UUID7, "evt_", "uuid4", "is not a UUIDv4 after the prefix 'evt_'"),
        ("evt_" + ULID, "evt_", "ulid", None),
        (ULID.lower(), "", "ulid", "is not a ULID"),
        ("8" + ULID[1:], "", "ulid", "is not a ULID"),  # more than 128 bits
        (12345, "", "uuid7", "is not a UUIDv7"),
    ],
)
def test_an_event_id_is_the_prefix_then_an_id_of_the_format(
    value: object, prefix: str, id_format: str, problem: str | None
) -> None:
    assert event_id_problem(value, prefix, id_format) == problem


def test_an_integer_identity_may_be_answered_as_the_number_or_its_text() -> None:
    ingest = offline_target("sendrealm").spec.ingest_operations[0].ingest
    assert ingest is not None
    expect = Expectation(202, shape=ingest.response, values={"identity_value": "42"})
    fields = {
        "id": UUID7,
        "event": "e",
        "resolved_identity_type": "contact_id",
        "occurred_at": "2026-01-02T03:04:05Z",
    }
    for value, fails in ((42, False), ("42", False), (43, True), (True, True)):
        body = {"data": {**fields, "resolved_identity_value": value}}
        assert ("success_body_shape" in judged("sendrealm", 202, body, expect)) is fails, value


def test_a_status_declared_undocumented_is_accepted_only_as_its_own_error() -> None:
    """Intercom documents 202 and 401 only; x-ingest `errors.undocumented` declares the 400, 413, 415,
    422 and 503 the server answers too. A declared status is accepted as the body of an error that
    answers it, and nothing else: another body, or a status not declared, is still undocumented."""
    spec = Path(__file__).parents[1] / "vendor_files" / "intercom" / "openapi.yaml"
    config = Path(__file__).parents[1] / "vendor_files" / "intercom" / "config.yaml"
    target = load_target(
        spec, "http://127.0.0.1:9", ("dG9rOmludGVyY29tX2V1XzRmMmI5YTdj",), config, check_reachable=False
    )
    op = target.spec.ingest_operations[0]
    assert op.ingest is not None and op.documented(400) is None

    def documented_failures(status: int, body: object) -> set[str]:
        probe = Probe("test", op, op.method, target.url(op), {}, b"{}", None)
        probe.reply = Reply(status, {"content-type": "application/json"}, orjson.dumps(body))
        return {f.check for f in run_checks(CheckContext(target, op), probe)} & {"status_code_documented"}

    assert documented_failures(400, op.ingest.errors.render("malformed_json", {})) == set()
    assert documented_failures(422, op.ingest.errors.render("payload_invalid", {"event": "e"})) == set()
    # The 422 error's body answered with 400 (declared, but not this error's status); a foreign body.
    assert documented_failures(400, op.ingest.errors.render("payload_invalid", {"event": "e"})) != set()
    assert documented_failures(400, {"error": "bad"}) != set()
    # 429 is neither documented nor declared (no rate limit): undocumented whatever the body.
    assert documented_failures(429, op.ingest.errors.render("unauthorized", {})) != set()
