"""The deployment under test: a spec, a base URL, one or two API keys and the server configuration.

Everything the suite knows about the API comes from here: the spec model (`generator.spec`) and the
deployment's configuration (`generator.config`). Nothing about a particular vendor is written in
the suite itself.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ingestspec.generator.config import Config, Project, load_config
from ingestspec.generator.errors import IngestSpecError
from ingestspec.generator.loader import load_spec
from ingestspec.generator.spec import Operation, Spec

from . import apikeys

# Every value the suite invents that can carry a marker starts with this, so QA can find test events.
MARK = "contract-test"
# The run id travels to pytest-xdist workers through the environment: they must mark alike.
RUN_ENV = "INGESTSPEC_CONTRACT_RUN"
SEED_ENV = "INGESTSPEC_CONTRACT_SEED"
# `make test-deep` raises the fuzzing depth through this variable.
FUZZ_ENV = "INGESTSPEC_FUZZ_EXAMPLES"
DEFAULT_MAX_EXAMPLES = 100


class TargetError(Exception):
    """The suite cannot run: bad spec, bad config, bad keys or an unreachable URL (a usage error)."""


@dataclass(frozen=True)
class Target:
    """What one contract run judges, and how hard."""

    spec: Spec
    config: Config
    base_url: str
    api_keys: tuple[str, ...]
    projects: tuple[Project, ...]
    run_id: str
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = 0

    @property
    def key(self) -> str:
        """The first API key: most scenarios run with it."""
        return self.api_keys[0]

    @property
    def project(self) -> Project:
        """The project of the first key."""
        return self.projects[0]

    @property
    def other(self) -> tuple[str, Project] | None:
        """The second key and its project, when given: it enables the isolation checks."""
        return (self.api_keys[1], self.projects[1]) if len(self.api_keys) > 1 else None

    def url(self, op: Operation) -> str:
        return self.base_url + op.path

    def marker(self) -> str:
        """A fresh marked token: `contract-test-<run>-<random>`."""
        return f"{MARK}-{self.run_id}-{secrets.token_hex(6)}"


def default_max_examples() -> int:
    """The fuzzing depth when none is given: `INGESTSPEC_FUZZ_EXAMPLES` or a small default."""
    value = os.environ.get(FUZZ_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_EXAMPLES


def run_id() -> str:
    """This run's id, shared with any worker processes through the environment."""
    return os.environ.setdefault(RUN_ENV, secrets.token_hex(4))


def run_seed(seed: int | None) -> int:
    """The fuzzer's seed: the one given, else one drawn for this run (and shared with its workers)."""
    if seed is not None:
        return seed
    return int(os.environ.setdefault(SEED_ENV, str(secrets.randbelow(2**31))))


def load_target(
    spec: str | Path,
    base_url: str,
    api_keys: tuple[str, ...] | list[str],
    config: str | Path,
    *,
    max_examples: int | None = None,
    seed: int | None = None,
    check_reachable: bool = True,
) -> Target:
    """Load and cross-check everything a run needs. Raises `TargetError` with a one-line reason."""
    try:
        loaded_spec = load_spec(spec)
        loaded_config = load_config(config)
    except IngestSpecError as exc:
        raise TargetError(f"{exc.source}: " + "; ".join(exc.problems)) from exc
    apikeys.keep(api_keys)
    if not api_keys:
        raise TargetError(
            f"give an API key: --api-key, --api-key-file or the {apikeys.ENV} environment variable"
        )
    if len(api_keys) > 2:
        raise TargetError("give one or two --api-key options (the second one enables the isolation checks)")
    projects = []
    for key in api_keys:
        project = loaded_config.project_for_key(key)
        if project is None:
            raise TargetError(f"API key {key[:4]}… is not given to any project in {config}")
        projects.append(project)
    if len(projects) == 2 and projects[0].id == projects[1].id:
        raise TargetError(
            f"both API keys belong to project {projects[0].id}; the second key must be another project's"
        )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"--base-url must be an http(s) URL, got {base_url!r}")
    target = Target(
        spec=loaded_spec,
        config=loaded_config,
        base_url=base_url.rstrip("/"),
        api_keys=tuple(api_keys),
        projects=tuple(projects),
        run_id=run_id(),
        max_examples=max_examples if max_examples is not None else default_max_examples(),
        seed=run_seed(seed),
    )
    if check_reachable:
        ensure_reachable(target.base_url)
    return target


def ensure_reachable(base_url: str) -> None:
    """Raise `TargetError` unless something answers HTTP at `base_url` (any status will do)."""
    try:
        httpx.get(base_url + "/", timeout=5.0)
    except httpx.HTTPError as exc:
        raise TargetError(f"{base_url} is unreachable: {exc or type(exc).__name__}") from exc
