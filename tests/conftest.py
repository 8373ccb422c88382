"""Shared fixtures: paths to the repository's specs, example config and the vendors' documents."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPECS = {"arsel": REPO / "openapi" / "arsel.yaml", "sendrealm": REPO / "openapi" / "sendrealm.yaml"}
EXAMPLE_CONFIG = REPO / "examples" / "config.yaml"
SEEDS = REPO.parent / "shared" / "seeds"
SEED_FILES = {"arsel": "000_48d12d4a5b9347a9.txt", "sendrealm": "003_8228088d6f70a92c.txt"}


@pytest.fixture(params=sorted(SPECS))
def api(request: pytest.FixtureRequest) -> str:
    """Each documented API by name."""
    return str(request.param)


@pytest.fixture
def seed_text(api: str) -> str:
    """The vendor's document the API's spec was derived from."""
    path = SEEDS / SEED_FILES[api]
    if not path.exists():
        pytest.skip(f"the vendors' documents are not here ({path}); they live beside the checkout in shared/seeds")
    return path.read_text()
