"""Your code: what happens to each accepted event of the Arsel Events API.

`ingestspec generate` wrote this file once and never overwrites it (manifest.json lists it as yours);
the server calls `handle` for every stored event unless it is started with another
`--handler module:attribute`.

The contract of a handler:
- It receives one `StoredEvent` (see storage.py): `id`, `project_id`, `event`, `identity_type` and
  `identity_value`, `payload` (the JSON bytes of the event's payload, as stored), `occurred_at`
  and `received_at` (RFC 3339, UTC), `idempotency_key` and `attempts` (how many earlier tries
  failed).
- It is called after the event is committed and answered, never on the request's path.
- It may be `async def` (run on the server's event loop: do not block it) or a plain `def` (run in
  a thread, so blocking calls are fine).
- Returning marks the event processed. Raising (any exception) schedules a retry with exponential
  backoff (1.0 s, multiplied by 2.0 after each failure, at most 300.0 s, with jitter);
  after 5 failed attempts the event is dead-lettered with the exception's text. A call
  running longer than the worker's lease (60 s) is cancelled and counts as a failure.
- Delivery is at least once: after a crash, or when marking the event processed fails, the same
  event comes again. Make the handler idempotent, e.g. keyed by `event.id`.
"""

from __future__ import annotations

from .storage import StoredEvent
from .worker import log_handler


async def handle(event: StoredEvent) -> None:
    """Replace this body with your processing; as generated it logs the event (worker.log_handler)."""
    await log_handler(event)
