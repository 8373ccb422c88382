"""Figures besides throughput: validation cost per event, generation time, the contract suite's wall time."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.load import spec_of
from bench.throughput import PROJECT, server_command
from tests.servers import REPO, serving

INGESTSPEC = str(Path(sys.executable).parent / "ingestspec")
KEYS = ("be_acme_test_key", "be_globex_test_key")  # two projects' keys: the isolation checks run too


def per_call_us(function: Callable[[], object]) -> float:
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def validation_costs(config: Path) -> dict[str, Any]:
    """µs per event for the acme `order.completed` definition, and for Sendrealm's request envelope."""
    import jsonschema
    import jsonschema_rs

    document = yaml.safe_load(config.read_text())
    schema = next(p for p in document["projects"] if p["id"] == PROJECT)["events"]["order.completed"][
        "schema"
    ]
    payload = {"order_id": "ord_123", "total": 4900, "currency": "EUR"}
    envelope = {
        "event": "order.completed",
        "contact_id": "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda",
        "email": "jsmith@example.com",
        "payload": payload,
        "occurred_at": "2026-06-08T14:15:00.000Z",
        "idempotency_key": "evt_order_completed_ord_123",
    }
    results: dict[str, Any] = {"definition": "acme order.completed", "payload": payload}
    rs = jsonschema_rs.validator_for(schema, validate_formats=True)
    py = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert rs.is_valid(payload) and py.is_valid(payload)
    results["payload_us"] = {
        "jsonschema_rs": per_call_us(lambda: rs.is_valid(payload)),
        "jsonschema": per_call_us(lambda: py.is_valid(payload)),
    }
    try:
        request_schema = importlib.import_module("generated_server.sendrealm.schema").REQUEST_SCHEMA
    except (ImportError, AttributeError) as exc:
        results["envelope_us"] = f"skipped: {exc}"
        return results
    rs_env = jsonschema_rs.validator_for(request_schema, validate_formats=True)
    py_env = jsonschema.Draft202012Validator(
        request_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    results["envelope_us"] = {
        "jsonschema_rs": per_call_us(lambda: rs_env.is_valid(envelope)),
        "jsonschema": per_call_us(lambda: py_env.is_valid(envelope)),
    }
    return results


def generation_times(apis: list[str]) -> dict[str, float | str]:
    """Wall time of `ingestspec generate SPEC --out TMP` for each spec (a fresh process each)."""
    times: dict[str, float | str] = {}
    for api in apis:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            command = [INGESTSPEC, "generate", str(REPO / "openapi" / f"{api}.yaml"), "--out", f"{tmp}/{api}"]
            result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            elapsed = time.perf_counter() - start
        last_line = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1][:300]
        times[api] = round(elapsed, 2) if result.returncode == 0 else f"failed: {last_line}"
    return times


def contract_time(apis: list[str], config: Path, log_dir: Path) -> dict[str, Any]:
    """Wall time of the contract suite at its default settings against each generated server on SQLite."""
    times: dict[str, Any] = {}
    for api in apis:
        db = f"sqlite:///{log_dir / f'contract-{api}.db'}"
        base_path = spec_of(REPO / "generated_server" / api).base_path
        try:
            with serving(server_command(api, config, db, 1, True), log_dir, f"contract-{api}") as server:
                command = [INGESTSPEC, "contract", api, "--base-url", server.root + base_path]
                for key in KEYS:
                    command += ["--api-key", key]
                command += ["--config", str(config)]
                start = time.perf_counter()
                result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
                elapsed = time.perf_counter() - start
        except RuntimeError as exc:  # the server did not start: say so, keep the other figures
            times[api] = {"skipped": f"server failed: {str(exc)[-300:]}"}
            continue
        times[api] = {
            "seconds": round(elapsed, 1),
            "exit": result.returncode,
            "command": " ".join(command[1:]),
        }
        if result.returncode not in (0, 1):
            times[api]["output"] = (result.stdout + result.stderr)[-400:]
    return times
