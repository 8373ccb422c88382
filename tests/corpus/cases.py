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


def spec_in(folder: Path) -> Path:
    """A case's spec: `openapi.yaml`, or `openapi.json` where a vendor publishes JSON."""
    yaml_spec = folder / "openapi.yaml"
    return yaml_spec if yaml_spec.exists() else yaml_spec.with_suffix(".json")


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
    # Further faults the suite must catch (an xfail reason where it does not yet).
    more_faults: tuple[Detection, ...] = ()

    def detections(self) -> tuple[Detection, ...]:
        return (Detection(self.fault, self.detector, self.fault_xfail), *self.more_faults)

    folder: Path = HERE  # where the spec's folder is (tests/vendor_files for published files)

    @property
    def spec(self) -> Path:
        return spec_in(self.folder / self.name)

    @property
    def config(self) -> Path:
        return self.folder / self.name / "config.yaml"

    @property
    def package(self) -> str:
        return f"{self.folder.name}_{self.name}"

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
    folder: Path = HERE

    @property
    def spec(self) -> Path:
        return spec_in(self.folder / self.name)


SERVED: tuple[Served, ...] = (
    Served("segment", "ignored_auth", "missing_api_key"),
    Served("rudderstack", "oversize_accepted", "oversize_body"),
    # The shared ignored_auth does not fit a key in the body (tests/corpus/faulty.py says why).
    Served("posthog", "ignored_body_key", "missing_api_key"),
    Served("customerio", "wrong_error_envelope", "malformed_json"),
    # The person is the path parameter; identify is a PUT served as the event `identify`.
    Served(
        "customerio_person",
        "ignored_auth",
        "missing_api_key",
        more_faults=(Detection("basic_password_unchecked", "invalid_api_key"),),
    ),
    # Not no_dedupe: Mixpanel answers a repeated $insert_id exactly like a new import (no id, no
    # replay header), so no black-box client can tell a server that stores duplicates from one that
    # does not. Lexicon checks (event definitions) are what a client sees.
    Served("mixpanel", "no_schema_validation", "payload_schema_mismatch"),
    # The documented array: the body is itself the batch (`items_field: ""`), the event's fields
    # are in `properties`; one refused event refuses the request.
    Served("mixpanel_array", "oversize_accepted", "oversize_body"),
    Served("iterable", "ignored_auth", "missing_api_key"),
    Served("heap", "identity_conflict_accepted", "identity_conflict"),
    # A batch: its error envelope is judged by negative fuzzing (Amplitude's `{code, error}`); the
    # request-level scenarios run on a batch of one item and catch an ignored key or size limit.
    Served(
        "amplitude",
        "wrong_error_envelope",
        "negative",
        more_faults=(
            Detection("ignored_body_key", "missing_api_key"),
            Detection("oversize_accepted", "oversize_body"),
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
            (f"{_OP}/x-ingest/errors/catalogue/unauthorized", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/unsupported_media_type", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/too_large", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/malformed_json", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/invalid_request", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/invalid_profile", "'id' is a required property"),
            (f"{_OP}/x-ingest/errors/catalogue/storage_unavailable", "'id' is a required property"),
            (f"{_OP}/responses/202", "202 documents no body, but x-ingest answers one"),
        ),
    ),
)
