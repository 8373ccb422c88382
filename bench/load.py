"""What the load generator sends to an API, read from the spec model: never hard-coded.

For each API the first ingest operation gives the method, the path (under the spec's base path),
the media type and how the key travels (contract_tests.credentials, the suite's own reading of
`security`). The body is the operation's fullest documented example (placeholders such as
`<string>` avoided); its idempotency key, wherever `x-ingest.dedupe` puts it, becomes the marker
UNIQUE, which the wrk script replaces per request so that every request is a new event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestspec.contract_tests.credentials import credentials
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Operation, Spec

UNIQUE = "@@ID@@"  # replaced by wrk per request: run id, thread and counter


@dataclass(frozen=True)
class Load:
    """One request, as a template: what every wrk request of an API looks like."""

    api: str
    method: str
    path: str  # the URL path, base path included; may hold UNIQUE
    headers: dict[str, str] = field(default_factory=dict)  # values may hold UNIQUE
    body: str = ""  # JSON text; may hold UNIQUE
    events_per_request: int = 1

    def plan(self) -> str:
        """The lines bench/wrk/ingest.lua reads: METHOD, PATH, HEADER name: value, BODY."""
        lines = [f"METHOD {self.method}", f"PATH {self.path}"]
        lines += [f"HEADER {name}: {value}" for name, value in self.headers.items()]
        lines.append(f"BODY {self.body}")
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.api}.plan"
        path.write_text(self.plan())
        return path

    def sample(self, marker: str) -> tuple[str, dict[str, str], str]:
        """(path, headers, body) of one concrete request."""
        headers = {name: value.replace(UNIQUE, marker) for name, value in self.headers.items()}
        return self.path.replace(UNIQUE, marker), headers, self.body.replace(UNIQUE, marker)


def spec_of(package: Path) -> Spec:
    """The spec a generated package serves (its own copy, openapi.yaml)."""
    return load_spec(package / "openapi.yaml")


def fullest_example(op: Operation) -> Any:
    def rank(value: Any) -> tuple[bool, int]:
        text = json.dumps(value)
        return ("<" in text and ">" in text, -len(text))

    if not op.request_examples:
        raise ValueError(f"{op.operation_id} documents no request example to send")
    return min((example.value for example in op.request_examples), key=rank)


def load_for(api: str, package: Path, key: str, operation: str | None = None) -> Load:
    """The request template for the first ingest operation of the package's spec (or `operation`),
    carrying `key`."""
    spec = spec_of(package)
    if not spec.ingest_operations:
        raise ValueError(f"{api}: the spec has no ingest operation")
    op = spec.operation(operation) if operation else spec.ingest_operations[0]
    assert op.ingest is not None
    ingest = op.ingest
    body = fullest_example(op)
    path = spec.base_path + op.path
    headers = {"Content-Type": op.request_media_type}
    creds = credentials(op, key)
    headers.update(creds.headers)
    body = creds.into(body)
    # The events of the request: a batch's items, the items of a body that is an array, or the body.
    if isinstance(body, list):
        events = body
    elif ingest.batch is not None:
        events = body[ingest.batch.items_field]
    else:
        events = [body]
    dedupe = ingest.dedupe
    if dedupe is not None:
        name = dedupe.key.name
        if dedupe.key.location == "body":
            for n, item in enumerate(events):
                item[name] = UNIQUE if len(events) == 1 else f"{UNIQUE}-{n}"
        elif dedupe.key.location == "header":
            headers[name] = UNIQUE
        else:
            path = path.replace("{" + name + "}", UNIQUE)
    # Path parameters other than a key: the documented example of the parameter, else a constant.
    for parameter in op.parameters:
        if parameter.location == "path" and "{" + parameter.name + "}" in path:
            value = parameter.schema.get("example", "bench")
            path = path.replace("{" + parameter.name + "}", str(value))
    url_path = creds.url(path)
    return Load(
        api, op.method.upper(), url_path, headers, json.dumps(body, separators=(",", ":")), len(events)
    )
