"""A processing handler that does nothing: `make bench` runs a server with it to see what the
default handler's log line costs (`--handler bench.noop_handler:handle`)."""

from __future__ import annotations

from typing import Any


async def handle(event: Any) -> None:
    """Returns at once: the event is marked processed."""
