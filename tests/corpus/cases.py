"""The corpus: ingest specs modelled on public APIs, and what each one is expected to do.

Each served spec lives in `tests/corpus/<name>/openapi.yaml` beside the deployment it is run with
(`config.yaml`: two projects, their keys, event definitions). A refused spec says something the
vocabulary or the server cannot do yet; lint must name where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Detection:
    """A fault relevant to the API and the contract test that must catch it."""

    fault: str  # of tests/contract/faults/catalogue.py or tests/corpus/faulty.py
    detector: str  # the contract test that must fail on the faulty server (and pass on the correct one)
    xfail: str = ""  # why it is not caught yet, and whose part must change


@dataclass(frozen=True)
class Served:
    """A spec the whole loop must take: lint, generate, serve, contract, Schemathesis, one fault."""

    name: str
    fault: str  # a fault of tests/contract/faults/catalogue.py or tests/corpus/faulty.py relevant to this API
    detector: str  # the contract scenario that must fail on the faulty server (and pass on the correct one)
    # Known failures, each with the part that must change and why; the lead removes them as features land.
    contract_xfail: str = ""
    contract_xfail_seeds: tuple[int, ...] = ()  # the seeds it is seen with; empty: every seed
    fault_xfail: str = ""
    st_xfail: str = ""
    # Faults the suite should catch and does not yet, each with its reason (beside the one above).
    gaps: tuple[Detection, ...] = ()

    def detections(self) -> tuple[Detection, ...]:
        return (Detection(self.fault, self.detector, self.fault_xfail), *self.gaps)

    @property
    def spec(self) -> Path:
        return HERE / self.name / "openapi.yaml"

    @property
    def config(self) -> Path:
        return HERE / self.name / "config.yaml"

    @property
    def package(self) -> str:
        return f"corpus_{self.name}"

    def keys(self) -> tuple[str, str]:
        """The first key of the first two projects: `--api-key K1 --api-key K2`."""
        projects = yaml.safe_load(self.config.read_text())["projects"]
        return projects[0]["api_keys"][0], projects[1]["api_keys"][0]


@dataclass(frozen=True)
class Refused:
    """A spec lint must refuse (exit 1) naming each place, and generate must refuse (exit 2)."""

    name: str
    problems: tuple[tuple[str, str], ...]  # (JSON pointer, a fragment of the message)
    # Problems lint reports beyond `problems` that it should not (a lint bug), if any.
    extra_xfail: str = field(default="")

    @property
    def spec(self) -> Path:
        return HERE / self.name / "openapi.yaml"


BATCH_SIZE = (
    "suite (contract_tests/fuzz.py _valid_batch): a positive batch is kept when its compact UTF-8 "
    "JSON fits the project's size limit, but Schemathesis sends it ASCII-escaped (a non-ASCII "
    "character as \\uXXXX, up to 12 bytes), so the server rightly answers a body over the limit "
    "(the 4096-byte project) as too large, where the suite expected 200"
)

BATCH_BODY_KEY = (
    "suite (contract_tests/fuzz.py _body, fits): each item of a positive batch is checked with the "
    "key put into it by session.with_key (credential_field), against the item's schema; PostHog's "
    "batch items forbid other properties, so every positive batch is filtered out "
    "(hypothesis.errors.Unsatisfiable in test_fuzz[batch-positive])"
)

BATCH_SCENARIOS = (
    "suite (contract_tests/scenarios.py single_events): every scenario is skipped for a batch "
    "operation, also those of the request as a whole (missing or unknown key, media type, size, "
    "JSON), which a batch answers like a single event; fuzzing alone sees no ignored key or size limit"
)

SERVED: tuple[Served, ...] = (
    Served(
        "segment", "ignored_auth", "missing_api_key", contract_xfail=BATCH_SIZE, contract_xfail_seeds=(2,)
    ),
    Served("rudderstack", "oversize_accepted", "oversize_body"),
    # The shared ignored_auth does not fit a key in the body (tests/corpus/faulty.py says why).
    Served("posthog", "ignored_body_key", "missing_api_key", contract_xfail=BATCH_BODY_KEY),
    Served("customerio", "wrong_error_envelope", "malformed_json"),
    # Not no_dedupe: Mixpanel answers a repeated $insert_id exactly like a new import (no id, no
    # replay header), so no black-box client can tell a server that stores duplicates from one that
    # does not. Lexicon checks (event definitions) are what a client sees.
    Served("mixpanel", "no_schema_validation", "payload_schema_mismatch"),
    Served("iterable", "ignored_auth", "missing_api_key"),
    Served("heap", "identity_conflict_accepted", "identity_conflict"),
    # A batch: the scenarios skip it, so its fault is one fuzzing sees (Amplitude's `{code, error}`).
    Served(
        "amplitude",
        "wrong_error_envelope",
        "negative",
        gaps=(
            Detection("ignored_body_key", "missing_api_key", BATCH_SCENARIOS),
            Detection("oversize_accepted", "oversize_body", BATCH_SCENARIOS),
        ),
    ),
)

_OP = "/paths/~1api~1events/post"
REFUSED: tuple[Refused, ...] = (
    Refused(
        "klaviyo",
        (
            (f"{_OP}/x-ingest/event_field", "which the request schema lacks"),
            (f"{_OP}/x-ingest/identity/fields/0/name", "which the request schema lacks"),
            (f"{_OP}/x-ingest/payload/field", "which the request schema lacks"),
            (f"{_OP}/x-ingest/occurred_at_field", "which the request schema lacks"),
            (f"{_OP}/x-ingest/dedupe/key/name", "which the request schema lacks"),
            (f"{_OP}/x-ingest/errors/catalogue/unauthorized", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/unsupported_media_type", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/too_large", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/malformed_json", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/invalid_request", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/invalid_profile", "is not of type 'array'"),
            (f"{_OP}/x-ingest/errors/catalogue/storage_unavailable", "is not of type 'array'"),
            (f"{_OP}/responses/202", "202 documents no body, but x-ingest answers one"),
        ),
    ),
    Refused(
        "customerio_person",
        (
            (
                "/paths/~1api~1v1~1customers~1{identifier}~1events/post/x-ingest/identity/fields/0/name",
                "x-ingest names request field 'identifier', which the request schema lacks",
            ),
        ),
    ),
    # The documented array: no field holds the events, and the event's fields are in `properties`.
    Refused(
        "mixpanel_array",
        (
            ("/paths/~1import/post/x-ingest/batch/items_field", "is not an array of the request schema"),
            ("/paths/~1import/post/x-ingest/event_field", "which the batch item's schema lacks"),
            (
                "/paths/~1import/post/x-ingest/occurred_at_field",
                "'time', which the batch item's",
            ),
            ("/paths/~1import/post/x-ingest/payload/field", "which the batch item's schema lacks"),
            ("/paths/~1import/post/x-ingest/identity/fields/0/name", "'distinct_id', which the batch"),
            ("/paths/~1import/post/x-ingest/dedupe/key/name", "'$insert_id', which the batch item's"),
        ),
    ),
)
