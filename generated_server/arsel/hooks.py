"""Your checks: what the Arsel Events API refuses beyond what its spec says.

`ingestspec generate` wrote this file once and never overwrites it (manifest.json lists it as yours).
`check` is called for every event after all the documented checks passed (key, limits, schema,
identity, event definitions), before the event is stored; for a batch, once per item:
- `project_id` is the key's project, `event` the event's name, `body` the request's (or the batch
  item's) JSON object as parsed; do not change it.
- Return to accept. Raise `Refused("why", "/pointer/to/field")` to refuse it with the spec's
  documented invalid_request error, the message and pointer as its details.
- It runs on the server's event loop, on the request's path: keep it fast and do not block.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError


class Refused(ApiError):
    """An event this deployment does not accept: the documented invalid_request error."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__("invalid_request", details=[{"path": path, "message": message}])


def check(project_id: str, event: str, body: dict[str, Any]) -> None:
    """Accept every event the spec allows; add your rules here."""
