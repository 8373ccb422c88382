"""`python -m <package> deadletters list|show|retry`: the events the worker gave up on.

    list  [--project P] [--all]   one JSON line per dead letter, oldest first (--all: re-driven too)
    show  EVENT_ID                the dead letter and its stored event, payload and whole item included
    retry EVENT_ID... | --all     pending again with a fresh round of attempts; a running server's
                                  worker picks them up. The dead letter is kept, with redriven_at.

The store is `--db`, else INGESTSPEC_DB, else the server's default. `list` leaves the payload,
the item and the identity out; `show` is the one way to read them, for the person investigating.
A re-driven event is handled again as it was stored: its whole item, every field as received.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from . import logs
from .settings import DEFAULT_DB, ENV
from .storage import Storage, StorageError, open_storage

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__} deadletters", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--db", default=os.environ.get(ENV["db"]) or DEFAULT_DB, help="sqlite:///PATH or postgresql://..."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="dead letters, oldest first")
    listing.add_argument("--project", help="only this project's")
    listing.add_argument("--all", action="store_true", help="re-driven ones too")
    show = commands.add_parser("show", help="one dead letter and its stored event")
    show.add_argument("event_id")
    retry = commands.add_parser("retry", help="re-drive dead letters")
    retry.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
    retry.add_argument("--all", action="store_true", help="every dead letter (of --project)")
    retry.add_argument("--project", help="with --all: only this project's")
    args = parser.parse_args(argv)
    if args.command == "retry" and bool(args.event_ids) == bool(args.all):
        parser.error("retry takes event ids or --all")
    return args


def _listed(letter: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in letter.items() if key not in ("payload", "item")}


async def _run(args: argparse.Namespace, out: Any) -> int:
    async with open_storage(args.db) as storage:
        if args.command == "list":
            for letter in await storage.dead_letters(args.project, redriven=args.all):
                out.write(orjson.dumps(_listed(letter)).decode() + "\n")
            return 0
        if args.command == "show":
            return await _show(storage, args.event_id, out)
        ids = args.event_ids or [
            str(letter["event_id"]) for letter in await storage.dead_letters(args.project)
        ]
        missing = 0
        for event_id in ids:
            if await storage.redrive(event_id):
                logger.info("dead letter re-driven", extra={"fields": {"event_id": event_id}})
                out.write(orjson.dumps({"event_id": event_id, "redriven": True}).decode() + "\n")
            else:
                missing += 1
                out.write(
                    orjson.dumps({"event_id": event_id, "redriven": False, "reason": "not dead"}).decode()
                    + "\n"
                )
        return 1 if missing else 0


async def _show(storage: Storage, event_id: str, out: Any) -> int:
    letter = next((x for x in await storage.dead_letters(redriven=True) if x["event_id"] == event_id), None)
    if letter is None:
        print(f"no dead letter for event {event_id}", file=sys.stderr)
        return 1
    event = await storage.get(str(letter["project_id"]), event_id)
    item = letter["item"]
    shown: dict[str, Any] = {
        **_listed(letter),
        "payload": orjson.loads(letter["payload"]),  # type: ignore[arg-type]
        "item": None if item is None else orjson.loads(item),  # type: ignore[arg-type]
    }
    if event is not None:
        shown["event"] = {
            "status": event.status,
            "identity_type": event.identity_type,
            "identity_value": event.identity_value,
            "occurred_at": event.occurred_at,
            "received_at": event.received_at,
            "idempotency_key": event.idempotency_key,
            "attempts": event.attempts,
        }
    out.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(os.environ.get(ENV["log_level"]) or "info")
    try:
        code = asyncio.run(_run(args, sys.stdout))
    except StorageError as exc:
        print(f"deadletters: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)
