"""Keys travel as each operation's security scheme says (or in its body field)."""

from __future__ import annotations

import base64
from pathlib import Path

from ingestspec.contract_tests.credentials import (
    credentials,
    for_schemes,
    needs_key,
    sendable_schemes,
    unaccepted_scheme,
)
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import SecurityScheme
from tests.generated_server.test_any_spec import body_key, vendor
from tests.specs import edited


def test_each_scheme_places_the_key_where_it_says() -> None:
    basic = for_schemes((SecurityScheme("b", "basic"),), "k1")
    assert basic.headers == {"Authorization": "Basic " + base64.b64encode(b"k1:").decode()}
    header = for_schemes((SecurityScheme("h", "header", "X-Api-Key"),), "k1")
    assert header.headers == {"X-Api-Key": "k1"} and not header.query
    query = for_schemes((SecurityScheme("q", "query", "api_key"),), "k1")
    assert query.query == {"api_key": "k1"} and query.url("http://h/p?a=1") == "http://h/p?a=1&api_key=k1"


def test_an_operation_with_several_schemes(tmp_path: Path) -> None:
    op = load_spec(edited(tmp_path, "sendrealm", vendor)).ingest_operations[0]
    assert credentials(op, "k1").headers == {"Authorization": "Bearer k1"}  # the first alternative
    assert {s.kind for s in sendable_schemes(op)} == {"bearer", "basic", "header", "query"}
    assert unaccepted_scheme(op) is None  # bearer and basic are both accepted
    assert credentials(op, None).headers == {}


def test_a_key_in_a_body_field(tmp_path: Path) -> None:
    op = load_spec(edited(tmp_path, "sendrealm", body_key)).ingest_operations[0]
    assert op.ingest is not None and op.ingest.credential_field
    creds = credentials(op, "k1")
    assert creds.into({"a": 1}) == {"a": 1, op.ingest.credential_field: "k1"} and not creds.headers
    assert needs_key(op) and not op.secured
    scheme = unaccepted_scheme(op)
    assert scheme is not None and scheme.kind == "bearer"
