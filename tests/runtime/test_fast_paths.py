"""The ingest path's shortcuts give what the long way gives: a date-time already in the stored
form, and a success answer's headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.responses import Response

from generated_server.arsel.bodies import Answer, answer_type
from tests.runtime.conftest import Runtime


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-08T14:15:00.000Z",
        "2026-06-08t14:15:00.123z",
        "2016-12-31T23:59:60.999Z",  # a leap second: the long way, a second later
        "2026-02-30T14:15:00.000Z",  # no such day
        "0000-01-01T00:00:00.000Z",  # no year 0 in Python
        "9999-12-31T23:59:59.999Z",
        "2026-06-08T24:00:00.000Z",
    ],
)
def test_a_date_time_in_the_stored_form_normalizes_as_the_long_way_does(rt: Runtime, text: str) -> None:
    long_way: str | None
    try:
        moment = datetime.fromisoformat(text.upper().replace("T23:59:60", "T23:59:59"))
    except ValueError:
        long_way = None
    else:
        if text[17:19] == "60":
            moment = moment.replace(second=59) + (datetime(2000, 1, 1, 0, 0, 1) - datetime(2000, 1, 1))
        long_way = rt.timestamps.format_utc(moment.astimezone(UTC))
    assert rt.timestamps.normalize(text) == long_way


@pytest.mark.parametrize("media_type", ["application/json", "text/plain", "application/problem+json", None])
@pytest.mark.parametrize(("status", "body"), [(200, b'{"ok":true}'), (202, b""), (204, b""), (201, b"1")])
def test_an_answer_has_starlettes_headers(media_type: str | None, status: int, body: bytes) -> None:
    answer = Answer(body, status, answer_type(media_type))
    expected = Response(body, status, media_type=media_type)
    assert answer.raw_headers == expected.raw_headers
    assert (answer.status_code, answer.body) == (expected.status_code, expected.body)
