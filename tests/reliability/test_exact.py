"""Nothing altered without a word: numbers stored as sent or refused, keys read as sent, codings
refused, reserved names folded properly, no redirects. Each was a finding of issue 14."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import EXAMPLE_CONFIG
from tests.servers import RunningServer, running_server

from .conftest import ACME_KEY, auth, require_generated, sendrealm_event, sqlite_url, with_storage

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exact")


@pytest.fixture(scope="module")
def sendrealm(store: Path) -> Iterator[RunningServer]:
    require_generated("sendrealm")
    with running_server(
        "generated_server.sendrealm", EXAMPLE_CONFIG, sqlite_url(store), "", log_dir=store
    ) as s:
        yield s


def post(
    server: RunningServer, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    all_headers = {"Content-Type": "application/json", **auth(), **(headers or {})}
    return httpx.post(server.base_url + "/events", content=content, headers=all_headers, timeout=10)


def event_with_number(text: str) -> bytes:
    """A valid event whose payload has `n`, the number written as `text`, byte for byte."""
    body = orjson.dumps(sendrealm_event(f"exact-{uuid.uuid4()}"))
    return body.replace(b'"total":4900', b'"total":4900,"n":' + text.encode())


def stored_payload(store: Path, event_id: str) -> bytes:
    async def payload(storage: Any) -> bytes:
        event = await storage.get("acme", event_id)
        return bytes(event.payload)

    return with_storage("sendrealm", sqlite_url(store), payload)


def assert_refused(response: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["title"] == title, body
    return body


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551616",
        "-9223372036854775809",
        "1e-400",
        "-1e-400",
        "[1E-400]",
        "0.10000000000000000000001",
        "123456789012345678901",
    ],
)
def test_a_number_that_would_be_stored_as_another_is_refused(sendrealm: RunningServer, text: str) -> None:
    body = assert_refused(post(sendrealm, event_with_number(text)), 400, "Invalid request")
    number, path = (text[1:-1], "/payload/n/0") if text.startswith("[") else (text, "/payload/n")
    assert body["errors"] == [
        {
            "path": path,
            "message": f"{number} cannot be stored exactly"
            " (integers must fit 64 bits, other numbers a double)",
        }
    ], body


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("18446744073709551615", b"18446744073709551615"),
        ("-9223372036854775808", b"-9223372036854775808"),
        ("1.5", b"1.5"),
        ("1E5", b"100000.0"),
        ("0.1", b"0.1"),
        ("12345678901234567", b"12345678901234567"),
    ],
)
def test_a_number_kept_exactly_is_stored_as_the_same_number(
    sendrealm: RunningServer, store: Path, text: str, stored: bytes
) -> None:
    response = post(sendrealm, event_with_number(text))
    assert response.status_code == 202, response.text
    assert orjson.loads(stored_payload(store, response.json()["data"]["id"]))["n"] == orjson.loads(stored)
    assert b'"n":' + stored in stored_payload(store, response.json()["data"]["id"])


@given(st.binary(max_size=40) | st.text('0123456789.eE-+az_ :,[]{}"', max_size=40).map(str.encode))
def test_the_exponent_precheck_never_misses_what_the_pattern_finds(raw: bytes) -> None:
    # The cheap check on the body's shapes must pass every body the exact pattern matches.
    from generated_server.sendrealm import bodies

    if bodies._EXPONENT.search(raw):
        assert bodies._may_have_exponent(raw.translate(bodies._SHAPES))


# JSON text as clients write it: compact or spaced, escaped or not, numbers in every spelling,
# objects that may repeat a member.
_NUMBERS = (
    st.integers().map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(
        ["-0", "-0.0", "1.0", "1e5", "1E-400", "-1e-400", "18446744073709551616", "0.10000000000000000000001"]
    )
)
_STRINGS = st.builds(
    lambda text, ascii_only: json.dumps(text, ensure_ascii=ascii_only), st.text(max_size=6), st.booleans()
)


def _joined(parts: list[str], spaced: bool) -> str:
    return (", " if spaced else ",").join(parts)


_VALUES = st.recursive(
    _NUMBERS | _STRINGS | st.sampled_from(["true", "false", "null"]),
    lambda inner: (
        st.builds(
            lambda items, spaced: f"[{_joined(items, spaced)}]", st.lists(inner, max_size=4), st.booleans()
        )
        | st.builds(
            lambda members, spaced: "{" + _joined([f"{json.dumps(k)}:{v}" for k, v in members], spaced) + "}",
            st.lists(st.tuples(st.sampled_from("abc"), inner), max_size=4),
            st.booleans(),
        )
    ),
    max_leaves=12,
)
_BODIES = st.builds(
    lambda members, spaced: "{" + _joined([f"{json.dumps(k)}:{v}" for k, v in members], spaced) + "}",
    st.lists(st.tuples(st.sampled_from(["event", "n", "payload"]), _VALUES), max_size=4),
    st.booleans(),
)


@given(_BODIES)
def test_the_one_step_reading_is_the_two_step_one(text: str) -> None:
    # parse_exact skips the scans when orjson writes the body back byte for byte: it must answer
    # every body (refusal, body, inexact numbers) exactly as parse then exact do.
    from generated_server.sendrealm import bodies
    from generated_server.sendrealm.errors import ApiError

    def outcome(read: Any) -> Any:
        try:
            return read()
        except ApiError as error:
            return error.key, error.details

    raw = text.encode()
    assert outcome(lambda: bodies.parse_exact(raw)) == outcome(lambda: bodies.exact(raw, bodies.parse(raw)))


def test_an_exponent_inside_a_string_is_no_number(sendrealm: RunningServer) -> None:
    body = sendrealm_event(f"exact-{uuid.uuid4()}")
    body["payload"]["order_id"] = "1e-400 and 18446744073709551616"
    assert post(sendrealm, body).status_code == 202


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("around", ["\u00a0", "\u0085", "\u3000"], ids=["nbsp", "nel", "ideographic"])
def test_a_key_with_unicode_whitespace_around_it_is_no_key(sendrealm: RunningServer, around: str) -> None:
    value = f"Bearer {ACME_KEY}{around}".encode()
    response = httpx.post(
        sendrealm.base_url + "/events",
        content=orjson.dumps(sendrealm_event(f"k-{uuid.uuid4()}")),
        headers=[(b"Content-Type", b"application/json"), (b"Authorization", value)],
        timeout=10,
    )
    assert_refused(response, 401, "Unauthorized")


def test_spaces_and_tabs_around_a_key_are_allowed(sendrealm: RunningServer) -> None:
    response = post(
        sendrealm, sendrealm_event(f"k-{uuid.uuid4()}"), {"Authorization": f"Bearer \t {ACME_KEY}"}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("second", [ACME_KEY, "be_globex_test_key", "wrong"])
def test_a_doubled_authorization_header_is_refused(sendrealm: RunningServer, second: str) -> None:
    response = httpx.post(
        sendrealm.base_url + "/events",
        content=orjson.dumps(sendrealm_event(f"k-{uuid.uuid4()}")),
        headers=[
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {ACME_KEY}"),
            ("Authorization", f"Bearer {second}"),
        ],
        timeout=10,
    )
    assert_refused(response, 401, "Unauthorized")


# --- codings, names, paths -----------------------------------------------------------------------


def test_a_gzip_body_is_refused_with_415(sendrealm: RunningServer) -> None:
    plain = orjson.dumps(sendrealm_event(f"gz-{uuid.uuid4()}"))
    for content in (gzip.compress(plain), plain):  # labelled gzip, whatever the bytes are
        response = post(sendrealm, content, {"Content-Encoding": "gzip"})
        body = assert_refused(response, 415, "Unsupported media type")
        assert body["errors"][0]["path"] == "header.Content-Encoding"
    assert post(sendrealm, plain, {"Content-Encoding": "identity"}).status_code == 202


@pytest.mark.parametrize("name", ["\u017fendrealm.x", "SENDREALM.x", "Sendrealm.mail"])
def test_a_reserved_prefix_is_matched_casefolded(sendrealm: RunningServer, name: str) -> None:
    body = sendrealm_event(f"r-{uuid.uuid4()}")
    body["event"] = name
    response = post(sendrealm, body)
    assert response.status_code == 422, response.text
    assert "reserved" in response.json()["title"].lower(), response.text


@pytest.mark.parametrize("path", ["/events/", "//events", "/Events"])
def test_a_near_miss_of_the_path_is_the_documented_404(sendrealm: RunningServer, path: str) -> None:
    response = httpx.post(
        sendrealm.root + path,
        content=orjson.dumps(sendrealm_event(f"p-{uuid.uuid4()}")),
        headers={"Content-Type": "application/json", "Host": "evil.example", **auth()},
        timeout=10,
        follow_redirects=False,
    )
    assert "location" not in response.headers
    assert_refused(response, 404, "Not found")


def test_arsel_refuses_an_inexact_number_in_its_own_envelope(tmp_path: Path) -> None:
    require_generated("arsel")
    with running_server(
        "generated_server.arsel", EXAMPLE_CONFIG, sqlite_url(tmp_path), "/v1", log_dir=tmp_path
    ) as s:
        body = b'{"event":"order.completed","email":"a@b.co","data":{"order_id":"A-1","total":1e-400}}'
        response = httpx.post(
            s.base_url + "/events/send", content=body, headers={"Content-Type": "application/json", **auth()}
        )
    assert response.status_code == 400, response.text
    assert response.json()["name"] == "bad_request"
    assert response.json()["details"][0]["path"] == "/data/total"
