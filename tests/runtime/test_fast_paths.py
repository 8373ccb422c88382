"""The ingest path's shortcuts give what the long way gives: a date-time already in the stored
form, a success answer's headers, a key's digest and a log line's time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import Response

from generated_server.arsel.bodies import Answer, answer_type
from generated_server.arsel.config import digest
from tests.runtime.conftest import Runtime


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-08T14:15:00.000Z",
        "2026-06-08t14:15:00.123z",
        "2016-12-31T23:59:60.999Z",  # a leap second: the long way, a second later
        "0001-01-01T00:00:60.000Z",  # a leap second at another minute (an offset moves UTC's 23:59:60)
        "9999-12-31T23:59:60.000Z",  # a leap second past year 9999
        "2026-02-30T14:15:00.000Z",  # no such day
        "0000-01-01T00:00:00.000Z",  # no year 0 in Python
        "9999-12-31T23:59:59.999Z",
        "2026-06-08T24:00:00.000Z",
    ],
)
def test_a_date_time_in_the_stored_form_normalizes_as_the_long_way_does(rt: Runtime, text: str) -> None:
    assert rt.timestamps.normalize(text) == long_way(rt, text)


def long_way(rt: Runtime, text: str) -> str | None:
    """RFC 3339's reading: a second of 60 (a leap second, at whatever minute an offset puts UTC's
    23:59:60) is read as the second after its 59th."""
    leap = text[17:19] == "60"
    try:
        moment = datetime.fromisoformat(text.upper() if not leap else f"{text[:17]}59{text[19:]}".upper())
        if leap:
            moment += timedelta(seconds=1)
    except (ValueError, OverflowError):
        return None
    return str(rt.timestamps.format_utc(moment.astimezone(UTC)))


def _field(high: int, width: int = 2) -> st.SearchStrategy[str]:
    return st.integers(0, high).map(lambda n: f"{n:0{width}d}")


# The stored form's shape, each field past its range as often as in it.
_SHAPED = st.builds(
    lambda y, mo, d, h, mi, s, ms, t, z: f"{y}-{mo}-{d}{t}{h}:{mi}:{s}.{ms}{z}",
    _field(9999, 4), _field(19), _field(39), _field(29), _field(69), _field(69), _field(999, 3),
    st.sampled_from("Tt"), st.sampled_from("Zz"),
)  # fmt: skip


@settings(max_examples=500)
@given(_SHAPED)
def test_any_date_time_of_the_stored_shape_normalizes_as_the_long_way_does(rt: Runtime, text: str) -> None:
    assert rt.timestamps.normalize(text) == long_way(rt, text)


@pytest.mark.parametrize("media_type", ["application/json", "text/plain", "application/problem+json", None])
@pytest.mark.parametrize(("status", "body"), [(200, b'{"ok":true}'), (202, b""), (204, b""), (201, b"1")])
def test_an_answer_has_starlettes_headers(media_type: str | None, status: int, body: bytes) -> None:
    answer = Answer(body, status, answer_type(media_type))
    expected = Response(body, status, media_type=media_type)
    assert answer.raw_headers == expected.raw_headers
    assert (answer.status_code, answer.body) == (expected.status_code, expected.body)


@pytest.mark.parametrize("key", ["be_acme_test_key", "", "ключ", "k" * 1000])
def test_a_key_digest_is_its_sha256(key: str) -> None:
    assert digest(key) == hashlib.sha256(key.encode()).digest()


@pytest.mark.parametrize("moment", [0.0, 1_780_000_000.0004994, 1_780_000_000.9995, 1_780_000_059.99999951])
def test_a_log_time_is_the_stored_time_with_its_offset_written_out(rt: Runtime, moment: float) -> None:
    stored = rt.timestamps.from_unix(moment)
    assert rt.timestamps.from_unix(moment, offset=True) == stored[:-1] + "+00:00"
    assert datetime.fromisoformat(stored.replace("Z", "+00:00")) == datetime.fromisoformat(
        rt.timestamps.from_unix(moment, offset=True)
    )
