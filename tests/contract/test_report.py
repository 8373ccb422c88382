"""The matrix names every documented answer; the summary reproduces each failure with curl."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from ingestspec.contract_tests.exchange import probe
from ingestspec.contract_tests.records import Record
from ingestspec.contract_tests.report import matrix_rows, render_failures, render_matrix
from tests.contract.conftest import offline_target


def test_the_matrix_lists_each_documented_status_and_error_name() -> None:
    spec = offline_target("sendrealm").spec
    op = spec.ingest_operations[0]
    records = [
        Record(op.operation_id, "success", 202, "success"),
        Record(op.operation_id, "x", 422, "reserved_event_name", [("error_body_exact", "differs")]),
        Record(op.operation_id, "x", 500, "unrecognised", [("status_code_documented", "500")]),
    ]
    rows = {(row.status, row.name): row for row in matrix_rows(op, records)}
    assert (
        (200, "replay") in rows
        and (422, "idempotency_key_reused") in rows
        and (405, "method_not_allowed") in rows
    )
    assert rows[(202, "success")].cells[2:] == ("yes (1)", "yes")
    assert rows[(422, "reserved_event_name")].cells[3].startswith("NO")
    assert rows[(400, "malformed_json")].cells[2:] == ("no", "-")
    assert not rows[(500, "unrecognised")].documented
    text = render_matrix(spec, records)
    assert "unrecognised (undocumented)" in text and "ingestEvent (POST /events)" in text


def test_failures_are_grouped_by_operation_and_check_with_a_curl_line() -> None:
    records = [
        Record(
            "sendEvent",
            "malformed_json",
            500,
            "unrecognised",
            [("status_code_expected", "got 500")],
            "curl x",
        )
    ]
    text = render_failures(records)
    assert "sendEvent" in text and "status_code_expected: 1 failing reply" in text and "curl x" in text
    assert render_failures([]) == "No failures."


def test_the_curl_line_sends_the_same_request() -> None:
    target = offline_target("arsel")
    op = target.spec.ingest_operations[0]
    item = probe("s", op, target.url(op), key="k", body={"event": "it's"})
    words = shlex.split(item.curl())
    assert words[words.index("-X") + 1] == "POST" and target.url(op) in words
    assert (
        "Authorization: Bearer k" in words and words[words.index("--data-binary") + 1] == '{"event":"it\'s"}'
    )


@pytest.mark.parametrize(
    "content",
    [b'{"a":"it\'s $HOME"}', b'{"a":1}' + b" " * 5000, b"\x00\xff{'%s\\", '{"é":"\\u0000"}'.encode()],
)
def test_curl_data_expands_to_the_exact_bytes(content: bytes) -> None:
    target = offline_target("arsel")
    op = target.spec.ingest_operations[0]
    item = probe("s", op, target.url(op), key="k", content=content)
    data = item.curl().split(" --data-binary ", 1)[1]
    script = f"cat {data[1:]}" if data.startswith("@") else f"printf %s {data}"
    sent = subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout
    assert sent == content
