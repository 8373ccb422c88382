"""Shared fixtures: paths to the repository's specs, example config and the vendors' documents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.python import DirectParamFixtureDef

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
        pytest.skip(
            f"the vendors' documents are not here ({path}); they live beside the checkout in shared/seeds"
        )
    return path.read_text()


def fresh_postgres_url() -> str:
    """A URL whose search_path is a new, empty schema on the test PostgreSQL server."""
    from tests.servers import postgres_schema

    admin = os.environ.get("INGESTSPEC_TEST_PG")
    if not admin:
        pytest.skip("no PostgreSQL: set INGESTSPEC_TEST_PG (`make test` starts one with scripts/postgres.sh)")
    return postgres_schema(admin)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind: a SQLite file, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return fresh_postgres_url()


# First: xdist's own hook reads the marks to group the tests by (its `@group` suffix).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `make test` (xdist's `--dist loadgroup`), the tests that share an instance of a
    module-scoped fixture (a generated server, a deployment, a wheel) run on the same worker, so
    each instance is made once rather than once per worker its tests are spread over."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        shared = sorted(
            name
            for name in item.fixturenames
            if (found := item._fixtureinfo.name2fixturedefs.get(name))
            and found[-1].scope == "module"
            and not isinstance(found[-1], DirectParamFixtureDef)
        )
        if not shared:
            continue
        # An instance is told by its parameter (the same value may sit at another index in
        # another test's parametrization, as the corpus's deployments do).
        params = getattr(item, "callspec", None)
        which = [
            f"{name}={getattr(value, 'name', None) or value}"
            for name in shared
            if params and (value := params.params.get(name, None)) is not None
        ]
        item.add_marker(pytest.mark.xdist_group("::".join([item.nodeid.split("::")[0], *which])))
