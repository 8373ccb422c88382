"""Vendors' published OpenAPI files, with only an `x-ingest` block added, through the user's loop.

Each `tests/vendor_files/<vendor>/` holds the file as the vendor publishes it (or cut to its ingest
operations, the kept lines unchanged: `SOURCE.md` says what was cut), the block added, and a
deployment's `config.yaml`. For each: `ingestspec lint` exit 0; `ingestspec generate`; the package
served by a real process on a loopback port; the vendor's documented example request sent and
answered with the documented status, its events stored; `ingestspec contract` exit 0 on three
seeds (seed 1 in `make test`, 2 and 3 in `make test-deep`); and one fault relevant to the API,
installed in the same package (`tests/corpus/faulty.py`), caught by the suite. A file that does
what no x-ingest can serve yet is refused by lint naming each place, and `generate` writes nothing.
The loop's parts are the corpus's (`tests/corpus/test_corpus.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingestspec.contract_tests.credentials import for_schemes
from ingestspec.generator.spec.model import item_get
from tests.corpus.cases import Detection, Refused, Served
from tests.corpus.test_corpus import (
    BIN,
    SEEDS,
    Deployment,
    assert_fault_caught,
    assert_generate_refuses_and_writes_nothing,
    assert_lint_refuses_for_those_reasons_only,
    assert_lint_refuses_naming_each_place,
    deployed,
    expect_failure,
    run,
    shown,
)
from tests.vendor_files.documented import documented_requests

HERE = Path(__file__).resolve().parent

SERVED: tuple[Served, ...] = (
    # JSON:API, every field nested in data.attributes, errors as `4XX`/`5XX` with `errors[]`,
    # success 202 with no body; the key is the whole `Klaviyo-API-Key <key>` header value. The
    # suite's false alarm on fields named by a JSON Pointer below the top level is fixed (bodies are
    # read and written at the field's pointer, contract_tests/bodies.py).
    Served("klaviyo", "ignored_auth", "missing_api_key", folder=HERE),
    # CloudEvents: a bearer token or the same key as a cookie, 204 with no body, RFC 7807 problem
    # details documented by status (each an allOf of one schema) and `default`.
    Served("openmeter", "wrong_error_envelope", "malformed_json", folder=HERE),
    # Mixpanel's /import, cut from the same published file as `mixpanel`: the body is itself the
    # array of events (`items_field: ""`), its fields nested in `properties`; the 415, 422 and
    # 503 it does not document answered as its documented 400 and 429.
    Served("mixpanel_import", "ignored_auth", "missing_api_key", folder=HERE),
    # Only 202 and 401 documented: x-ingest `errors.undocumented` declares the 400, 413, 415, 422 and
    # 503 the server answers too (lint warns of each); the body is optional (lint warns: a request
    # without one is refused as malformed JSON). A declared undocumented status is still judged: the
    # payload-mismatch error answering 400 instead of its 422 is caught, as is another envelope.
    Served(
        "intercom",
        "wrong_error_status",
        "payload_schema_mismatch",
        folder=HERE,
        more_faults=(Detection("wrong_error_envelope", "malformed_json"),),
    ),
    # OneSignal's custom events, from the spec its Go SDK ships: a batch of events (`events`), the
    # app's id in the path, the contact by External ID or OneSignal ID (both nullable), errors as
    # `{"errors": [...]}` documented by status and `default`, an empty 200 object.
    Served(
        "onesignal",
        "ignored_auth",
        "missing_api_key",
        folder=HERE,
        more_faults=(Detection("wrong_error_envelope", "malformed_json"),),
    ),
)
_TRACK = "/paths/~1v1~1track/post"
_UNDOCUMENTED = "which is not a documented response"
REFUSED: tuple[Refused, ...] = (
    # `servers: [{url: /v1}]` and `/v1/track`; `event` not required (the 415, 422 and 503 it does not
    # document are declared in x-ingest errors.undocumented).
    Refused(
        "rudderstack",
        (
            ("/servers/0/url", "/v1/track would be served at /v1/v1/track"),
            (f"{_TRACK}/x-ingest/event_field", "must be in the request schema's `required`"),
        ),
        folder=HERE,
    ),
    # /import is served (see mixpanel_import); /track is not: its body is not `required`, it
    # documents no 400, 413 or 429 (only 200, 401, 403), and its 200 text `1` is documented with
    # an integer schema, which a text answer is not matched against yet.
    Refused(
        "mixpanel",
        (
            *(
                (f"/paths/~1track/post/x-ingest/errors/catalogue/{key}/status", _UNDOCUMENTED)
                for key in (
                    "unsupported_media_type",
                    "too_large",
                    "malformed_json",
                    "invalid_request",
                    "storage_unavailable",
                )
            ),
            # One error body for both operations: /track's says `status: error`, /import's the reason.
            ("/paths/~1track/post/x-ingest/errors/catalogue/unauthorized", "is not one of ['error']"),
            ("/paths/~1track/post/responses/403", "403 is documented but the server never answers it"),
            ("/paths/~1track/post/x-ingest/batch/response/text", "'1' is not of type 'integer'"),
        ),
        folder=HERE,
    ),
)


def test_every_vendor_folder_is_a_case() -> None:
    folders = {p.parent.name for p in HERE.glob("*/SOURCE.md")}
    assert folders == {c.name for c in SERVED} | {c.name for c in REFUSED}


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_lint_refuses_what_is_not_served_naming_each_place(case: Refused, tmp_path: Path) -> None:
    assert_lint_refuses_naming_each_place(case)
    assert_generate_refuses_and_writes_nothing(case, tmp_path)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_lint_refuses_for_those_reasons_only(case: Refused) -> None:
    assert_lint_refuses_for_those_reasons_only(case)


@pytest.fixture(scope="module", params=SERVED, ids=lambda case: case.name)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with deployed(request.param, tmp_path_factory.mktemp(request.param.name)) as found:
        yield found


@pytest.mark.parametrize("case", SERVED, ids=lambda case: case.name)
def test_lint_accepts_the_published_file_with_its_block(case: Served) -> None:
    result = run(BIN / "ingestspec", "lint", case.spec)
    assert result.returncode == 0, shown(result)


def stored(deployment: Deployment) -> int:
    with sqlite3.connect(deployment.folder / "events.db") as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_the_documented_example_is_answered_as_documented_and_stored(deployment: Deployment) -> None:
    """The vendor's documented request, with the first project's key sent by each of the
    operation's security schemes in turn (as the contract suite sends a key): the documented
    success status each time, its events stored once (a replay the second time when it carries an
    idempotency key)."""
    assert deployment.server is not None
    operation = deployment.operation
    ingest = operation.ingest
    assert ingest is not None
    status = ingest.batch.response.status if ingest.batch else ingest.response.status
    assert operation.documented(status) is not None, f"{status} is not documented"
    for index, scheme in enumerate(operation.schemes):
        creds = for_schemes((scheme,), deployment.case.keys()[0])
        for example in documented_requests(operation):
            before = stored(deployment)
            reply = httpx.post(
                creds.url(deployment.server.base_url + operation.path),
                params=example.params,
                json=example.body,
                headers={**creds.headers, **example.headers, "Content-Type": operation.request_media_type},
                timeout=10,
            )
            assert reply.status_code == status, (scheme.name, example.name, reply.status_code, reply.text)
            # A batch's items: at its items_field ("" is the body itself, an array).
            at = ingest.items.items
            items = item_get(example.body, at) if at is not None else [example.body]
            # Sent again by the next scheme, an example with an idempotency key is a replay.
            new = len(items) if index == 0 or ingest.dedupe is None else 0
            assert stored(deployment) == before + new, (scheme.name, example.name)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_contract_suite_passes_on_the_generated_server(
    deployment: Deployment, seed: int, request: pytest.FixtureRequest
) -> None:
    expect_failure(request, deployment.case.contract_xfail)
    result = deployment.verdict(seed)
    assert result.returncode == 0, shown(result)


def test_the_contract_suite_catches_a_relevant_fault(deployment: Deployment, tmp_path: Path) -> None:
    for detection in deployment.case.detections():
        folder = tmp_path / detection.fault
        folder.mkdir()
        assert_fault_caught(deployment, detection, folder)


def test_a_key_cookie_named_twice_carries_no_key(deployment: Deployment) -> None:
    """As a header or query parameter sent twice: ambiguous, so no key at all (401)."""
    assert deployment.server is not None
    cookies = [s for s in deployment.operation.schemes if s.kind == "cookie"]
    if not cookies:
        pytest.skip("no apiKey cookie scheme")
    key, name = deployment.case.keys()[0], cookies[0].parameter
    example = next(documented_requests(deployment.operation))
    reply = httpx.post(
        deployment.server.base_url + deployment.operation.path,
        json=example.body,
        headers={
            "Cookie": f"{name}={key}; {name}={key}",
            "Content-Type": deployment.operation.request_media_type,
        },
        timeout=10,
    )
    assert reply.status_code == 401, reply.text


def test_a_request_without_its_optional_body_gets_the_malformed_json_answer(deployment: Deployment) -> None:
    """A request body the file does not require (Intercom's): a request without one has no event,
    and is answered what lint's `request-body-is-optional` warning says, the `malformed_json`
    entry (its status declared in `errors.undocumented` when the file does not document it)."""
    assert deployment.server is not None
    operation = deployment.operation
    if operation.request_required:
        pytest.skip("the request body is required")
    ingest = operation.ingest
    assert ingest is not None
    creds = for_schemes(operation.schemes[:1], deployment.case.keys()[0])
    before = stored(deployment)
    reply = httpx.post(
        creds.url(deployment.server.base_url + operation.path),
        headers={**creds.headers, "Content-Type": operation.request_media_type},
        timeout=10,
    )
    entry = ingest.errors.catalogue["malformed_json"]
    assert reply.status_code == entry.status, reply.text
    assert reply.json() == ingest.errors.render("malformed_json", {})
    assert operation.documented(entry.status) or entry.status in ingest.errors.undocumented
    assert stored(deployment) == before
