"""The targets of `make bench` beyond the shipped servers: what a feature costs where it is used.

  - a corpus spec that uses the vocabulary of real clients (tests/corpus/segment's /batch: a batch
    of mixed items, track, identify and page, each read by its kind's rules, deduplicated by
    messageId, basic auth), as deployed on SQLite, its events counted per event;
  - the shared rate limiter: Arsel's ingest path alone with a rate limit in its spec (10,000 per half
    second, which one CPU does not reach), against Arsel's ingest path alone without;
  - the pre-auth byte cap: requests to a spec whose key travels in the body (tests/corpus/amplitude)
    with a wrong key and a 1 MB body, the CPU each refusal costs;
  - with `--compare REV`, the shipped servers as generated at another commit (their ingest path
    alone): before and after a change, in one run.

Each spec is generated into the run's folder as a package of its own, which the server runs from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.load import Load, load_for
from bench.throughput import ALONE, Target, server_command
from ingestspec.generator.spec.migrate import upgrade
from tests.servers import REPO

CORPUS = REPO / "tests" / "corpus"
# The corpus target: (spec folder, operation, key of the config's project, that project).
BATCH = ("segment", "batch", "seg_web_write_key_1", "web")
# The pre-auth cap's target: a key in the body, the config's project, and how big a body to send.
BODY_KEY = ("amplitude", "uploadEvents", "0a1b2c3d4e5f60718293a4b5c6d7e8f9")
LARGE_BODY_BYTES = 1_000_000
# A limit no run on one CPU reaches (20,000 a second): every request pays the limiter and none is
# refused. 10,000 is the most x-ingest allows in one window (the limiter keeps each admitted time).
NEVER_REACHED = 10_000
NEVER_REACHED_SECONDS = 0.5


def generate(spec: Path, packages: Path, name: str) -> Path:
    """`ingestspec generate spec` into packages/name; the package's folder."""
    out = packages / name
    command = [str(Path(sys.executable).parent / "ingestspec"), "generate", str(spec), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"ingestspec generate {spec} failed:\n{done.stdout}{done.stderr}")
    return out


def environment(packages: Path) -> dict[str, str]:
    """The server's environment: packages/ first on its import path."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(packages), str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def db(work: Path, name: str) -> str:
    return f"sqlite:///{work / f'{name}.db'}"


def corpus_batch(work: Path, packages: Path) -> Target:
    """The corpus spec's batch of mixed items, as deployed on SQLite, counted per event."""
    folder, operation, key, project = BATCH
    name = f"{folder}_bench"
    package = generate(CORPUS / folder / "openapi.yaml", packages, name)
    load = load_for(folder, package, key, operation)
    config = CORPUS / folder / "config.yaml"
    url = db(work, name)
    command = server_command(folder, config, url, 1, True, package=name)
    return Target(
        f"{folder} {operation} sqlite",
        load,
        command,
        url,
        1,
        "sqlite",
        package=name,
        env=environment(packages),
        project=project,
    )


def with_rate_limit(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with a rate limit on its first ingest operation, and its documented 429."""
    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "x-ingest" in op:
                block = op["x-ingest"] = upgrade(op["x-ingest"])  # rate_limit is a key of version 2
                block["rate_limit"] = {
                    "requests": NEVER_REACHED,
                    "per_seconds": NEVER_REACHED_SECONDS,
                    "error": "rate_limited",
                }
                catalogue = block["errors"]["catalogue"]
                unauthorized = catalogue["unauthorized"]
                catalogue["rate_limited"] = {
                    **unauthorized,
                    "status": 429,
                    "message": "Retry in {retry_after} s.",
                }
                if "fields" in unauthorized:
                    catalogue["rate_limited"]["fields"] = {
                        k: ("rate_limited" if v == "unauthorized" else v)
                        for k, v in unauthorized["fields"].items()
                    }
                answer = dict(op["responses"]["401"])
                answer["content"] = {  # the 401's schema, not its examples
                    media: {k: v for k, v in content.items() if k not in ("example", "examples")}
                    for media, content in answer.get("content", {}).items()
                }
                answer["description"] = "Too many requests for this key."
                answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
                op["responses"]["429"] = answer
                return document
    raise ValueError("no ingest operation")


def rate_limited(api: str, work: Path, packages: Path, config: Path, alone: tuple[str, ...]) -> Target:
    """`api`'s ingest path alone with a rate limit that is never reached."""
    document = yaml.safe_load((REPO / "openapi" / f"{api}.yaml").read_text())
    spec = work / f"{api}-rate-limited.yaml"
    spec.write_text(yaml.safe_dump(with_rate_limit(document), sort_keys=False))
    name = f"{api}_limited"
    package = generate(spec, packages, name)
    return alone_target(api, package, name, "rate limit", work, packages, config, alone)


def preauth_refusals(work: Path, packages: Path, alone: tuple[str, ...]) -> Target:
    """Requests with a wrong key in a 1 MB body: each refused after the pre-auth cap's bytes."""
    folder, operation, key = BODY_KEY
    name = f"{folder}_bench"
    package = generate(CORPUS / folder / "openapi.yaml", packages, name)
    load = load_for(folder, package, key, operation)
    body = json.loads(load.body)
    field = next(k for k, v in body.items() if v == key)
    body[field] = "a-wrong-key"
    # Numbers with exponents, as the attacker sent: the body Python's json would read again.
    body["padding"] = [0.1e-1] * (LARGE_BODY_BYTES // 8)
    text = json.dumps(body, separators=(",", ":")).replace("0.01", "1e-2")
    refused = Load(load.api, load.method, load.path, load.headers, text, load.events_per_request)
    url = db(work, name)
    command = server_command(folder, CORPUS / folder / "config.yaml", url, 1, False, alone, package=name)
    return Target(
        f"{folder} sqlite, wrong key in a 1 MB body",
        refused,
        command,
        url,
        1,
        "sqlite",
        "pre-auth refusals",
        worker=False,
        package=name,
        env=environment(packages),
        refused=True,
    )


def at_commit(
    api: str, revision: str, work: Path, packages: Path, config: Path, alone: tuple[str, ...]
) -> Target:
    """`api`'s ingest path alone as generated at `revision` (its generated_server/<api> folder)."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", revision], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()
    name = f"{api}_at_{short}"
    out = packages / name
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", revision, f"generated_server/{api}"], capture_output=True, check=True, cwd=REPO
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out), "--strip-components=2"], input=archive, check=True)
    return alone_target(api, out, name, f"at {short}", work, packages, config, alone)


def alone_target(
    api: str,
    package: Path,
    name: str,
    what: str,
    work: Path,
    packages: Path,
    config: Path,
    alone: tuple[str, ...],
) -> Target:
    """The ingest path alone (no access line, no worker) of `api` as generated into `package`."""
    load = load_for(api, package, "be_acme_test_key")
    url = db(work, name)
    command = server_command(api, config, url, 1, False, alone, package=name)
    variant = f"{ALONE}, {what}"
    return Target(
        f"{api} sqlite, {variant}",
        load,
        command,
        url,
        1,
        "sqlite",
        variant,
        worker=False,
        package=name,
        env=environment(packages),
    )
