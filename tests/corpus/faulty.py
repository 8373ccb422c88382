"""The shared fault runner (`tests/contract/faults/run.py`) for corpus servers, plus what it lacks yet.

    python -m tests.corpus.faulty --package corpus_segment --fault ignored_auth \
        --config tests/corpus/segment/config.yaml --db sqlite:///tmp/events.db --port 8000

- A spec with several ingest operations has one `ingest_<operation>` module each and no `ingest`:
  the runner's faults are put in the first ingest operation's module (the operation whose `x-ingest`
  block the runner hands them), made importable as `<package>.ingest`.
- `ignored_body_key` is `ignored_auth` for a key carried in a body field (`credential_field`): that
  server's `authenticate` also takes the body, which the shared fault's wrapper does not pass on.
- `basic_password_unchecked`: HTTP basic credentials whose key is `user:password`
  (`x-ingest-basic: both`) are known by their user name alone, any password taken.
- `unknown_token_taken`, `token_ignored`: a keyless collector (`project_field`) takes an unknown
  token as the first project's, or files every known token's events under the first project.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import yaml

from ingestspec.generator.generate.context import modules
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Ingest
from tests.contract.faults import run
from tests.contract.faults.catalogue import Modules, fault


@fault("any or no API key in the body is taken as the first project's", lambda i: bool(i.credential_field))
def ignored_body_key(m: Modules, ingest: Ingest) -> None:
    original = m["ingest"].Ingest.authenticate

    def authenticate(self: Any, request: Any, body: Any) -> Any:
        try:
            return original(self, request, body)
        except m["errors"].ApiError:
            return self.config.projects[0]

    m["ingest"].Ingest.authenticate = authenticate


@fault("HTTP basic `both`: a known user name is taken with any password", lambda i: True)
def basic_password_unchecked(m: Modules, ingest: Ingest) -> None:
    # The server knows keys by digest only: the fault reads the deployment's keys from its --config.
    config = Path(sys.argv[sys.argv.index("--config") + 1])
    keys = [str(k) for p in yaml.safe_load(config.read_text())["projects"] for k in p.get("api_keys") or ()]
    by_user = {key.partition(":")[0]: key for key in keys if ":" in key}
    credentials = m["ingest"].credentials
    original = credentials.presented

    def presented(request: Any, schemes: Any) -> Any:
        for key in original(request, schemes):
            yield by_user.get(key.partition(":")[0], key)

    credentials.presented = presented


def keyless(ingest: Ingest) -> bool:
    return bool(ingest.project_field)


@fault("a keyless collector takes an unknown token as the first project's", keyless)
def unknown_token_taken(m: Modules, ingest: Ingest) -> None:
    original = m["config"].Config.project_for_token

    def project_for_token(self: Any, token: str) -> Any:
        return original(self, token) or self.projects[0]

    m["config"].Config.project_for_token = project_for_token


@fault("a keyless collector files every known token's events under the first project", keyless)
def token_ignored(m: Modules, ingest: Ingest) -> None:
    original = m["config"].Config.project_for_token

    def project_for_token(self: Any, token: str) -> Any:
        return self.projects[0] if original(self, token) is not None else None

    m["config"].Config.project_for_token = project_for_token


def alias_first_operation(package: str) -> None:
    """Make `<package>.ingest` the module of the spec's first ingest operation."""
    root = Path(importlib.import_module(package).__file__ or "").parent
    spec = load_spec(root / "openapi.yaml")
    name = modules(spec)[spec.ingest_operations[0].operation_id].name
    if name != "ingest":
        sys.modules[f"{package}.ingest"] = importlib.import_module(f"{package}.{name}")


def main() -> None:
    alias_first_operation(sys.argv[sys.argv.index("--package") + 1])
    run.main()


if __name__ == "__main__":
    main()
