"""The deployment under test: a spec, a base URL, one or two API keys and the server configuration.

Everything the suite knows about the API comes from here: the spec model (`generator.spec`) and the
deployment's configuration (`generator.config`). Nothing about a particular vendor is written in
the suite itself.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ingestspec.generator.config import Config, Project, load_config
from ingestspec.generator.errors import IngestSpecError
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Operation, Spec

from . import apikeys
from .depth import DEFAULT_MAX_EXAMPLES, default_max_examples
from .transport import Transport

# Every value the suite invents that can carry a marker starts with this, so QA can find test events.
MARK = "contract-test"
# The run id travels to pytest-xdist workers through the environment: they must mark alike.
RUN_ENV = "INGESTSPEC_CONTRACT_RUN"
SEED_ENV = "INGESTSPEC_CONTRACT_SEED"


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
    transport: Transport = Transport()
    # Check names to run (empty: all) and to leave out (--checks, --exclude-checks).
    checks: tuple[str, ...] = ()
    excluded_checks: tuple[str, ...] = ()
    # --no-create: send nothing the deployment would store.
    no_create: bool = False

    def judges(self, check: str) -> bool:
        """Whether a check's failures count in this run."""
        return (not self.checks or check in self.checks) and check not in self.excluded_checks

    @property
    def project(self) -> Project:
        """The first given project (what names it on an operation: `keys_for`)."""
        return self.projects[0]

    def keys_for(self, op: Operation) -> tuple[str, ...]:
        """What names each project on `op`, in the projects' order: its public token on a keyless
        collector (x-ingest `project_field`), else its API key. Each is the value given for the
        project when it is of that kind, else the first the configuration lists; the list stops at
        the first project that has none (so a second value always means a second project)."""
        keyless = op.ingest is not None and bool(op.ingest.project_field)
        found = []
        for given, project in zip(self.api_keys, self.projects, strict=True):
            is_token = given in project.tokens
            listed = project.tokens if keyless else project.api_keys
            value = given if is_token == keyless else next(iter(listed), None)
            if value is None:
                break
            found.append(value)
        return tuple(found)

    def missing_for(self, op: Operation) -> str | None:
        """Why no request of `op` can name the first project, if none can."""
        if self.keys_for(op):
            return None
        keyless = op.ingest is not None and bool(op.ingest.project_field)
        what, where = ("public token", "tokens") if keyless else ("API key", "api_keys")
        return (
            f"{op.operation_id} needs project {self.project.id}'s {what}: give it with --api-key, or list"
            f" it under {where} in the configuration"
        )

    def url(self, op: Operation) -> str:
        return self.base_url + op.path

    def marker(self) -> str:
        """A fresh marked token: `contract-test-<run>-<random>`."""
        return f"{MARK}-{self.run_id}-{secrets.token_hex(6)}"


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
    transport: Transport | None = None,
    checks: tuple[str, ...] = (),
    excluded_checks: tuple[str, ...] = (),
    no_create: bool = False,
) -> Target:
    """Load and cross-check everything a run needs. Raises `TargetError` with a one-line reason."""
    try:
        loaded_spec = load_spec(spec)
        loaded_config = load_config(config, keys_required=False)
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
    # A key (or a keyless collector's public token) the file does not list belongs to the next
    # project listed without keys, in order.
    keyless = [
        p for p in loaded_config.projects if not p.api_keys and not any(k in p.tokens for k in api_keys)
    ]
    for key in api_keys:
        project = loaded_config.project_for_key(key) or loaded_config.project_for_token(key)
        if project is None and keyless:
            project = keyless.pop(0)
        if project is None:
            raise TargetError(
                f"API key {key[:4]}… is not given to any project in {config}, and no project there is"
                " left without keys to take it"
            )
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
        transport=transport or Transport(),
        checks=checks,
        excluded_checks=excluded_checks,
        no_create=no_create,
    )
    if check_reachable:
        preflight(target)
    return target


def preflight(target: Target) -> None:
    """Raise `TargetError` with a hint when the run cannot judge anything: the URL does not answer
    (the cause: refused, TLS, timeout), every reply is 404 (a wrong base path), or every reply to a
    given key is 401/403 (a key the deployment does not take). Sends, per operation and key, a
    request with the key and an empty body, which no conforming server stores (a keyless
    collector's empty body names no project: its 401 says nothing of the key)."""
    import orjson

    from .credentials import credentials
    from .exchange import cause

    statuses: dict[int, list[int]] = {index: [] for index in range(len(target.api_keys))}
    others: list[int] = []  # replies to keyless collectors' empty bodies, which name no project
    with target.transport.client(headers=dict(target.transport.headers)) as client:
        for op in target.spec.operations:
            url = target.base_url + re.sub(r"\{[^}]*\}", MARK, op.path)
            keyless = op.ingest is not None and bool(op.ingest.project_field)
            for index, key in enumerate(target.keys_for(op)):
                creds = credentials(op, key)
                headers = dict(creds.headers)
                content = b""
                if op.request_media_types:
                    headers["Content-Type"] = op.request_media_type
                    content = orjson.dumps(creds.into({}))
                try:
                    reply = client.request(op.method, creds.url(url), headers=headers, content=content)
                except httpx.HTTPError as exc:
                    raise TargetError(f"{target.base_url} is unreachable: {cause(exc)}") from exc
                (others if keyless else statuses[index]).append(reply.status_code)
    replies = [status for found in statuses.values() for status in found] + others
    if replies and all(status == 404 for status in replies):
        parts = urlsplit(target.base_url)
        root, base_path = f"{parts.scheme}://{parts.netloc}", target.spec.base_path
        where = (
            f"The spec's servers entries put the API under {base_path!r}, so --base-url should end"
            f" with it, as in {root}{base_path}."
            if base_path
            else "The spec's servers entries have no path, so --base-url should be the URL its paths"
            f" follow directly, such as {root}."
        )
        raise TargetError(f"every request got 404 at {target.base_url}: is the base path right? {where}")
    for index, found in statuses.items():
        if found and all(status in (401, 403) for status in found):
            raise TargetError(
                f"every request with API key #{index + 1} was refused with {found[0]}: does the "
                f"deployment take this key? (its project in the configuration: {target.projects[index].id})"
            )
