"""The server configuration: the projects a deployment hosts, their keys, limits and event definitions.

The generated servers read the same format (validated against the same JSON Schema); the contract
suite reads it here to learn which events each project defines.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError
from .spec.loader import FastSafeLoader, bundled_schema, parsed


@dataclass(frozen=True)
class EventDefinition:
    name: str
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Project:
    id: str
    api_keys: tuple[str, ...]
    events: Mapping[str, EventDefinition] = field(default_factory=dict)
    payload_limit_bytes: int | None = None
    retention_days: int | None = None
    idempotency_mismatch: str | None = None
    tokens: tuple[str, ...] = ()  # public tokens naming the project on keyless operations


@dataclass(frozen=True)
class Config:
    path: Path
    projects: tuple[Project, ...]

    def project_for_key(self, api_key: str) -> Project | None:
        return next((p for p in self.projects if api_key in p.api_keys), None)

    def project_for_token(self, token: str) -> Project | None:
        """The project a keyless collector's public token names."""
        return next((p for p in self.projects if token in p.tokens), None)


def duplicates(projects: tuple[Project, ...]) -> list[str]:
    """The duplicate-key rule, the same in the generated servers' config.py: a project id is used
    once, and an API key is listed once in the whole file (twice in one project is refused as well
    as in two, since a key belongs to exactly one project). Keys are never printed. A public token
    too names one project, and is no API key (a secret would be public)."""
    problems: list[str] = []
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for project in projects:
        if project.id in ids:
            problems.append(f"project id {project.id!r} is used twice")
        ids.add(project.id)
        for what, values in ((KEY_TWICE, project.api_keys), (TOKEN_TWICE, project.tokens)):
            for key in values:
                if key in owners:
                    problems.append(f"project {project.id!r}: {what} (already in project {owners[key]!r})")
                owners.setdefault(key, project.id)
    return problems


# The duplicate rule's words, the same in the generated servers' config.py.
KEY_TWICE = "an API key is listed twice"
TOKEN_TWICE = "a token is listed twice, or is an API key"  # a secret written as a public token


def load_config(path: str | Path, keys_required: bool = True) -> Config:
    """Read and validate a configuration file. Raises `ConfigError` listing every problem.

    A server needs every project's keys; the contract suite, given keys of its own, does not
    (`keys_required=False`), so QA can keep the keys of a real deployment out of the file."""
    path = Path(path)
    try:
        raw = parsed(yaml.load, path.read_text(), FastSafeLoader, yaml.SafeLoader)
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"not valid YAML: {exc}"]) from exc
    schema = bundled_schema("config")
    if not keys_required:
        schema = copy.deepcopy(schema)  # the bundled schema is cached: never change it in place
        project_schema = schema["properties"]["projects"]["items"]
        project_schema.pop("anyOf")  # api_keys or tokens
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(raw)
    ]
    if problems:
        raise ConfigError(path, problems)
    projects = tuple(
        Project(
            id=p["id"],
            api_keys=tuple(p.get("api_keys", ())),
            events={
                name: EventDefinition(name, d["schema"], d.get("description", ""))
                for name, d in (p.get("events") or {}).items()
            },
            payload_limit_bytes=p.get("payload_limit_bytes"),
            retention_days=p.get("retention_days"),
            idempotency_mismatch=p.get("idempotency_mismatch"),
            tokens=tuple(p.get("tokens", ())),
        )
        for p in raw["projects"]
    )
    problems += duplicates(projects)
    for project in projects:
        for definition in project.events.values():
            try:
                jsonschema.Draft202012Validator.check_schema(definition.schema)
            except jsonschema.SchemaError as exc:
                problems.append(
                    f"{project.id}/events/{definition.name}: not a valid JSON Schema: {exc.message}"
                )
    if problems:
        raise ConfigError(path, problems)
    return Config(path, projects)
