"""ids.py for `x-ingest.id_format: uuid4`: exactly the text the standard library writes for the same
random bytes, composed without it."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.specs import imported

SPEC = Path(__file__).resolve().parents[1] / "corpus" / "segment" / "openapi.yaml"  # id_format: uuid4
PACKAGE = "uuid4_ids"


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with imported(SPEC, tmp_path_factory.mktemp("uuid4"), PACKAGE):
        yield importlib.import_module(f"{PACKAGE}.ids")


@pytest.mark.parametrize(
    "raw",
    [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(240, 256))]
    + [bytes([n]) * 16 for n in (0x0F, 0x3F, 0x7F, 0xBF, 0xC0)],
)
def test_an_id_is_what_uuid_writes_for_its_bytes(
    ids: ModuleType, raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ids, "random_bytes", lambda n: raw[:n])
    assert ids.new_id() == str(uuid.UUID(bytes=raw, version=4))


def test_random_ids_are_version_4_of_the_rfc_variant(ids: ModuleType) -> None:
    made = [ids.new_id() for _ in range(10_000)]
    parsed = [uuid.UUID(value) for value in made]
    assert all(p.version == 4 and p.variant == uuid.RFC_4122 for p in parsed)
    assert [str(p) for p in parsed] == made
    assert len(set(made)) == len(made)
