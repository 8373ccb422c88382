"""The vendors' official Python SDKs against servers generated from specs of their APIs.

For each SDK (pinned in the dev extra), the spec in `tests/sdk/<vendor>/` is linted, generated and
served as a real process on a loopback port (SQLite; PostgreSQL too for one SDK), behind a
recording proxy that terminates TLS for the SDKs that only speak https (a throw-away CA, trusted
through `REQUESTS_CA_BUNDLE`). The SDK is pointed at it with its host option and makes the calls its
README (or the vendor's quick start) shows first, then flushes. Three claims per SDK:

- the SDK saw success (its error hook or exception stayed quiet) and the store holds one event per
  event it sent;
- the store holds every field the SDK sent, as sent (`harness.unstored`);
- a wrong key surfaces in the SDK as the vendor's own error, read without a crash, after one
  request (no retry of a permanent refusal) and in bounded time.

What today's vocabulary or server cannot do yet is a strict xfail naming the missing feature: it
turns into a failure (XPASS) the day the feature lands, and the mark is then removed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.conftest import fresh_postgres_url
from tests.contract.test_staging import private_ca
from tests.sdk.harness import HERE, Deployment, Exchange, SpecRefused, deployed, matched, wait_for
from tests.servers import drop_postgres_schema

# Long enough for a contended machine, short against the SDKs' own budgets (Segment's retries may
# run for 12 hours, Amplitude's for minutes).
BOUND_SECONDS = 30.0


@dataclass
class Outcome:
    """What one SDK run did: the errors its hooks reported and the exchanges on the wire."""

    errors: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)


Calls = Callable[[Deployment, Outcome], None]


@dataclass(frozen=True)
class Sdk:
    """How one SDK is called, where its events are on the wire, and what it still lacks here."""

    name: str  # also the folder tests/sdk/<name>
    first_calls: Calls  # the README's first calls and a flush, with the first project's key
    wrong_key: Calls  # one call with a key no project has, then a flush
    vendor_error: str  # what the SDK's error must say for a wrong key (the vendor's own error)
    items: Callable[[Exchange], list[dict[str, Any]]]  # the events one request carries
    tls: bool = False  # the SDK only speaks https
    missing: Mapping[str, str] = field(default_factory=dict)  # test -> the feature that is missing

    def __str__(self) -> str:
        return self.name


def decoded(exchange: Exchange) -> bytes:
    coding = exchange.headers.get("content-encoding", "identity").lower()
    if coding == "gzip":
        return gzip.decompress(exchange.body)
    if coding == "deflate":
        return zlib.decompress(exchange.body)
    return exchange.body


def json_items(member: str) -> Callable[[Exchange], list[dict[str, Any]]]:
    """The events of a JSON body's array `member` (envelope fields such as sentAt are not events)."""

    def items(exchange: Exchange) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(decoded(exchange))[member]
        return found

    return items


# -- Segment and RudderStack (the same client library, forked) -----------------------------------

SEGMENT_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("identify", ("019mr8mf4r", {"email": "pgibbons@example.com", "name": "Peter Gibbons"})),
    ("track", ("019mr8mf4r", "Item Purchased", {"name": "Leap to Conclusions Mat", "revenue": 14.99})),
    ("page", ("019mr8mf4r", "Docs", "Tracking HTTP API", {"url": "https://example.com/docs"})),
]


def analytics_python(client_class: Any) -> tuple[Calls, Calls]:
    """Calls through an analytics-python client (Segment's, or RudderStack's fork of it)."""

    def run(
        key: str, calls: list[tuple[str, tuple[Any, ...]]], deployment: Deployment, outcome: Outcome
    ) -> None:
        def on_error(error: Exception, batch: object) -> None:
            outcome.errors.append(f"{type(error).__name__}: {error}")

        client = client_class(key, host=deployment.wire.root, on_error=on_error)
        for method, args in calls:
            getattr(client, method)(*args)
        client.flush()
        client.join()

    def first(deployment: Deployment, outcome: Outcome) -> None:
        run(deployment.key(), SEGMENT_CALLS, deployment, outcome)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        run("not_a_write_key", SEGMENT_CALLS[1:2], deployment, outcome)

    return first, wrong


def segment() -> tuple[Calls, Calls]:
    from segment.analytics import Client

    return analytics_python(Client)


def rudderstack() -> tuple[Calls, Calls]:
    from rudderstack.analytics.client import Client

    return analytics_python(Client)


# -- PostHog -------------------------------------------------------------------------------------


def posthog_run(key: str, deployment: Deployment, outcome: Outcome, *, all_calls: bool) -> None:
    from posthog import Posthog

    def on_error(error: Exception, batch: object) -> None:
        outcome.errors.append(f"{type(error).__name__}: {error}")

    client = Posthog(key, host=deployment.wire.root, on_error=on_error)
    client.capture(
        "user_signed_up", distinct_id="distinct_id_of_the_user", properties={"login_type": "email"}
    )
    if all_calls:
        client.set(distinct_id="distinct_id_of_the_user", properties={"name": "Max Hedgehog"})
        client.alias(previous_id="distinct_id_of_the_user", distinct_id="new_distinct_id")
    client.flush()
    client.shutdown()


def posthog() -> tuple[Calls, Calls]:
    def first(deployment: Deployment, outcome: Outcome) -> None:
        posthog_run(deployment.key(), deployment, outcome, all_calls=True)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        posthog_run("phc_not_a_project_key", deployment, outcome, all_calls=False)

    return first, wrong


# -- Amplitude -----------------------------------------------------------------------------------


class Recorded(logging.Handler):
    """Keeps the messages an SDK logs (Amplitude reports an invalid key only in its log)."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.into.append(record.getMessage())


def amplitude_run(key: str, deployment: Deployment, outcome: Outcome, *, identify: bool) -> None:
    from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify

    answered: list[int] = []
    logger = logging.getLogger(f"amplitude.sdk19.{key}")
    logger.addHandler(Recorded(outcome.errors))

    def callback(event: object, code: int, message: str | None) -> None:
        answered.append(code)
        if not 200 <= code < 300:
            outcome.errors.append(f"{code}: {message}")

    config = Config(server_url=f"{deployment.wire.root}/2/httpapi", callback=callback, logger=logger)
    client = Amplitude(key, config)
    client.track(
        BaseEvent(
            event_type="watch_tutorial", user_id="user@example.com", event_properties={"tutorial": "intro"}
        )
    )
    if identify:
        traits = Identify()
        traits.set("location", "LAX")
        client.identify(traits, EventOptions(user_id="user@example.com"))
    client.flush()
    sent = 2 if identify else 1
    # The SDK answers through its callback from a worker thread; an invalid key answers nothing.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: len(answered) >= sent or bool(outcome.errors), BOUND_SECONDS, "amplitude callbacks")
    client.shutdown()
    if not outcome.errors and answered != [200] * sent:
        outcome.errors.append(f"the callback answered {answered} for {sent} events")


def amplitude() -> tuple[Calls, Calls]:
    def first(deployment: Deployment, outcome: Outcome) -> None:
        amplitude_run(deployment.key(), deployment, outcome, identify=True)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        amplitude_run("0" * 32, deployment, outcome, identify=False)

    return first, wrong


# -- Customer.io (https only) --------------------------------------------------------------------


def customerio_run(key: str, deployment: Deployment, outcome: Outcome, *, all_calls: bool) -> None:
    from customerio import CustomerIO, CustomerIOException

    site_id, api_key = key.split(":", 1)
    client = CustomerIO(site_id, api_key, host="127.0.0.1", port=deployment.wire.port)
    calls: list[Callable[[], object]] = [lambda: client.track(customer_id="5", name="purchased")]
    if all_calls:
        calls = [
            lambda: client.identify(id="5", email="customer@example.com", name="Bob", plan="premium"),
            *calls,
            lambda: client.track(customer_id="5", name="purchased", data={"price": 23.45}),
        ]
    for call in calls:
        try:
            call()
        except CustomerIOException as error:
            outcome.errors.append(f"CustomerIOException: {error}")
    client.close()


def customerio() -> tuple[Calls, Calls]:
    def first(deployment: Deployment, outcome: Outcome) -> None:
        customerio_run(deployment.key(), deployment, outcome, all_calls=True)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        site_id = deployment.key().split(":", 1)[0]
        customerio_run(f"{site_id}:not_the_api_key", deployment, outcome, all_calls=False)

    return first, wrong


# -- Mixpanel (https only) -----------------------------------------------------------------------


def mixpanel_run(token: str, deployment: Deployment, outcome: Outcome, *, all_calls: bool) -> None:
    from mixpanel import Consumer, Mixpanel, MixpanelException

    client = Mixpanel(token, consumer=Consumer(api_host=f"127.0.0.1:{deployment.wire.port}"))
    calls: list[Callable[[], object]] = [lambda: client.track("13793", "Sent Message", {"recipient": "ada"})]
    if all_calls:
        calls.append(
            lambda: client.people_set("13793", {"$first_name": "John", "$email": "john@example.com"})
        )
        # /import takes the project's API secret (basic auth), which the token is not.
        secret = deployment.key()
        calls.append(
            lambda: client.import_data(
                None, "13793", "Sent Message", 1796536000, {"recipient": "bob"}, api_secret=secret
            )
        )
    for call in calls:
        try:
            call()
        except MixpanelException as error:
            outcome.errors.append(f"MixpanelException: {error}")


def mixpanel() -> tuple[Calls, Calls]:
    def first(deployment: Deployment, outcome: Outcome) -> None:
        # No key: the project's public token (config `tokens`) names it inside each event.
        mixpanel_run(deployment.projects[0]["tokens"][0], deployment, outcome, all_calls=True)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        mixpanel_run("not_a_project_token", deployment, outcome, all_calls=False)

    return first, wrong


def customerio_items(exchange: Exchange) -> list[dict[str, Any]]:
    """The body, and the person the path names (`/customers/{id}`, `/customers/{id}/events`)."""
    person = exchange.path.split("/customers/", 1)[1].split("/", 1)[0]
    return [{**json.loads(decoded(exchange)), "identifier": person}]


def mixpanel_items(exchange: Exchange) -> list[dict[str, Any]]:
    """`data=<JSON>` of the form: one event (the default Consumer) or a list (BufferedConsumer)."""
    data = json.loads(parse_qs(decoded(exchange).decode())["data"][0])
    return data if isinstance(data, list) else [data]


# -- the SDKs ------------------------------------------------------------------------------------

STORED = "test_the_sdk_sees_success_and_every_event_is_stored"
FIELDS = "test_every_field_the_sdk_sent_is_stored"
WRONG_KEY = "test_a_wrong_key_is_the_vendors_own_error"


def blocked(served: str, stored: str = "", fields: str = "") -> dict[str, str]:
    """The xfail reasons of an SDK: what its spec needs to be served at all (every test), to store
    what the README's calls send, and to keep every field of it."""
    joined = [reason for reason in (served, stored) if reason]
    return {
        STORED: "; ".join(joined),
        FIELDS: "; ".join([*joined, *([fields] if fields else [])]),
        WRONG_KEY: served,
    }


def sdk(name: str, calls: Callable[[], tuple[Calls, Calls]], vendor_error: str, **options: Any) -> Sdk:
    def first(deployment: Deployment, outcome: Outcome) -> None:
        calls()[0](deployment, outcome)

    def wrong(deployment: Deployment, outcome: Outcome) -> None:
        calls()[1](deployment, outcome)

    return Sdk(name, first, wrong, vendor_error, **options)


SDKS: tuple[Sdk, ...] = (
    sdk(
        "segment",
        segment,
        "APIError: [Segment] unauthorized: Invalid write key. (401)",
        items=json_items("batch"),
    ),
    sdk(
        "rudderstack",
        rudderstack,
        "APIError: [rudderstack] unauthorized: Invalid write key (401)",
        items=json_items("batch"),
    ),
    sdk(
        "posthog",
        posthog,
        "APIError: [PostHog] Project API key invalid.",
        items=json_items("batch"),
    ),
    sdk(
        "amplitude",
        amplitude,
        "Invalid API Key",
        items=json_items("events"),
        # `library` on every event and `$identify`'s `user_properties` are not the payload field.
    ),
    sdk(
        "customerio",
        customerio,
        "CustomerIOException: 401",
        items=customerio_items,
        tls=True,
    ),
    sdk(
        "mixpanel",
        mixpanel,
        "MixpanelException: Mixpanel error: Invalid token",
        items=mixpanel_items,
        tls=True,
    ),
)


@dataclass(frozen=True)
class Case:
    """An SDK against its server on one store."""

    sdk: Sdk
    backend: str  # sqlite | postgresql

    def __str__(self) -> str:
        return f"{self.sdk}-{self.backend}"


# SQLite for every SDK; PostgreSQL too for one of single events and one of gzipped mixed batches.
ON_POSTGRESQL = ("amplitude", "rudderstack")
CASES = (
    *(Case(s, "sqlite") for s in SDKS),
    *(Case(s, "postgresql") for s in SDKS if s.name in ON_POSTGRESQL),
)


def cases(test: str) -> list[Any]:
    """Each case, strictly expected to fail where its SDK still lacks a feature for `test`."""
    return [
        pytest.param(
            case,
            id=str(case),
            marks=[pytest.mark.xfail(strict=True, reason=case.sdk.missing[test])]
            if test in case.sdk.missing
            else [],
        )
        for case in CASES
    ]


@dataclass(frozen=True)
class Target:
    """A case and its deployment."""

    case: Case
    deployment: Deployment


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    case: Case = request.param
    folder = tmp_path_factory.mktemp(str(case))
    tls = None
    if case.sdk.tls:
        ca, cert, key = private_ca(folder)
        tls = (cert, key)
        patch = pytest.MonkeyPatch()
        patch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # requests' verify=True reads it
        request.addfinalizer(patch.undo)
    db = f"sqlite:///{folder / 'events.db'}" if case.backend == "sqlite" else fresh_postgres_url()
    try:
        with deployed(HERE / case.sdk.name, folder, db, tls) as found:
            yield Target(case, found)
    finally:
        if case.backend == "postgresql":
            import os

            drop_postgres_schema(os.environ["INGESTSPEC_TEST_PG"], db)


@dataclass
class FirstRun:
    """The first calls, made once per deployment: what the SDK did and what was stored."""

    outcome: Outcome
    items: list[dict[str, Any]]
    stored: list[Any]


@pytest.fixture(scope="module")
def first_run(target: Target) -> FirstRun:
    case, deployment = target.case, target.deployment
    start = len(deployment.wire.exchanges)
    outcome = Outcome()
    case.sdk.first_calls(deployment, outcome)
    outcome.exchanges = deployment.wire.since(start)
    # A batch the SDK sent again (after a retryable answer) carries the same events.
    unique = {
        json.dumps(item, sort_keys=True): item for ex in outcome.exchanges for item in case.sdk.items(ex)
    }
    return FirstRun(outcome, list(unique.values()), deployment.stored())


def shown(run: FirstRun) -> str:
    lines = [f"{ex.method} {ex.path} -> {ex.status} {ex.answer[:300]!r}" for ex in run.outcome.exchanges]
    return "\n".join([*lines, *run.outcome.errors])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", cases(STORED), indirect=True)
def test_the_sdk_sees_success_and_every_event_is_stored(first_run: FirstRun) -> None:
    assert first_run.outcome.exchanges, "the SDK sent nothing"
    assert first_run.outcome.errors == [], shown(first_run)
    assert all(200 <= ex.status < 300 for ex in first_run.outcome.exchanges), shown(first_run)
    assert len(first_run.stored) == len(first_run.items), shown(first_run)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", cases(FIELDS), indirect=True)
def test_every_field_the_sdk_sent_is_stored(first_run: FirstRun) -> None:
    assert first_run.items, shown(first_run)
    lacking = {i: fields for i, fields in matched(first_run.items, first_run.stored).items() if fields}
    assert lacking == {}, f"{lacking}\n{shown(first_run)}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", cases(WRONG_KEY), indirect=True)
def test_a_wrong_key_is_the_vendors_own_error(target: Target) -> None:
    case, deployment = target.case, target.deployment
    start, held = len(deployment.wire.exchanges), deployment.count()
    outcome = Outcome()
    began = time.monotonic()
    case.sdk.wrong_key(deployment, outcome)
    took = time.monotonic() - began
    exchanges = deployment.wire.since(start)
    assert took < BOUND_SECONDS, f"the SDK took {took:.1f} s to give up"
    # A permanent refusal is not retried: one request, and none later.
    time.sleep(1)
    assert len(deployment.wire.since(start)) == 1, [f"{e.method} {e.path} {e.status}" for e in exchanges]
    assert exchanges[0].status in (400, 401, 403), exchanges[0]
    assert any(error.startswith(case.sdk.vendor_error) for error in outcome.errors), outcome.errors
    assert deployment.count() == held, "a refused request stored events"


def test_the_specs_say_what_each_sdk_sends() -> None:
    """Every SDK has its spec and configuration, and each spec's description has the table of what
    its SDK sends (notes/sdk19.md repeats them)."""
    import yaml

    for each in SDKS:
        document = yaml.safe_load((HERE / each.name / "openapi.yaml").read_text())
        assert "| call |" in document["info"]["description"], each.name
        assert (HERE / each.name / "config.yaml").is_file(), each.name


def test_a_refused_spec_is_reported_as_refused(tmp_path: Path) -> None:
    """The xfails above rest on lint's verdict reaching the tests as SpecRefused, naming the place."""
    source = tmp_path / "refused"
    source.mkdir()
    text = (HERE / "amplitude" / "openapi.yaml").read_text()
    (source / "openapi.yaml").write_text(
        text.replace("max_items: 2000", "max_items: 2000\n          not_a_key: 1")
    )
    with (
        pytest.raises(SpecRefused, match="not_a_key"),
        deployed(source, tmp_path, f"sqlite:///{tmp_path / 'e.db'}"),
    ):
        pass


def test_the_wire_terminates_tls_for_an_https_only_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Customer.io's SDK (https only) through the Wire's TLS, against the corpus spec of its anonymous
    events, which today's vocabulary serves: the event is answered and stored."""
    from customerio import CustomerIO

    ca, cert, key = private_ca(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    corpus = HERE.parent / "corpus" / "customerio"
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with deployed(corpus, tmp_path, db, (cert, key), package="sdk_tls_customerio") as deployment:
        site_id, api_key = deployment.key().split(":", 1)
        client = CustomerIO(site_id, api_key, host="127.0.0.1", port=deployment.wire.port)
        client.track_anonymous("3e07c6e8-1a1d-4c3b-9c5e-21cbd4a8a4d0", "purchase", data={"price": 23.45})
        client.close()
        assert [(e.method, e.path, e.status) for e in deployment.wire.exchanges] == [
            ("POST", "/api/v1/events", 200)
        ]
        assert [json.loads(e.payload) for e in deployment.stored()] == [{"price": 23.45}]
