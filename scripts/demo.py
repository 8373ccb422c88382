"""The whole job in one command (`make demo`), on the embedded default storage (SQLite).

For each spec: lint it, check the committed server is what it generates, start that server with the
example configuration, send the vendor's documented examples, then judge the running server with
the contract suite. Exits non-zero if any step fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestspec.generator.spec.loader import load_spec  # noqa: E402
from tests.servers import running_server  # noqa: E402

CONFIG = REPO / "examples" / "config.yaml"
KEYS = ("be_acme_test_key", "be_globex_test_key")


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def ingestspec(*args: str) -> None:
    print("$ ingestspec " + " ".join(args), flush=True)
    subprocess.run([str(Path(sys.executable).parent / "ingestspec"), *args], cwd=REPO, check=True)


def demo(api: str, workdir: Path) -> None:
    spec_path = REPO / "openapi" / f"{api}.yaml"
    spec = load_spec(spec_path)
    step(f"{spec.title}: lint and check the committed server")
    ingestspec("lint", f"openapi/{api}.yaml")
    ingestspec("generate", f"openapi/{api}.yaml", "--out", f"generated_server/{api}", "--check")
    db = f"sqlite:///{workdir / f'{api}.db'}"
    with running_server(f"generated_server.{api}", CONFIG, db, spec.base_path, log_dir=workdir) as server:
        step(f"{spec.title}: the document's examples, sent to {server.base_url}")
        for op in spec.ingest_operations:
            for example in op.request_examples:
                response = httpx.post(
                    server.base_url + op.path,
                    json=example.value,
                    headers={"Authorization": f"Bearer {KEYS[0]}"},
                )
                answer = json.dumps(response.json())
                print(f"{op.method} {op.path} ({example.name}) -> {response.status_code} {answer}")
                if response.status_code >= 300:
                    raise SystemExit(f"documented example {example.name} was refused")
        step(f"{spec.title}: contract suite against the running server")
        args = ["contract", f"openapi/{api}.yaml", "--base-url", server.base_url, "--config", str(CONFIG)]
        for key in KEYS:
            args += ["--api-key", key]
        ingestspec(*args)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ingestspec-demo-") as tmp:
        for api in ("arsel", "sendrealm"):
            demo(api, Path(tmp))
    print("\nBoth servers generated, served on SQLite, and judged conformant.")


if __name__ == "__main__":
    main()
