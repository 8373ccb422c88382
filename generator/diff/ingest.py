"""Compare two operations' `x-ingest` blocks behaviour by behaviour, by meaning rather than by order.

Response fields are an object's members, so their order is no change; identity fields are ordered
only under `first_present`, where the order picks the contact; prefixes and documented-only
statuses are sets; a catalogue key renamed with the same body changes nothing on the wire. Each
behaviour is judged by its direction where it has one (a lower cap refuses more requests: breaking
for clients; a higher one lets NEW clients send what an OLD server refuses: breaking for servers).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..spec.model import ErrorEntry, Ingest, KeySource, Read, ResponseShape, field_pointer
from .model import BOTH, CLIENTS, NEITHER, SERVERS, Collector
from .schemas import key_of, show

__all__ = ["compare_ingest", "compare_read"]


def _attributes(
    old: object, new: object, kinds: tuple[tuple[str, str], ...], where: str, label: str, out: Collector
) -> None:
    """A change, breaking both sides, for each named attribute whose value differs."""
    for attr, kind in kinds:
        was, now = getattr(old, attr), getattr(new, attr)
        if was != now:
            out.add(kind, f"{where}.{attr}", was, now, BOTH, f"{label}{attr} changed from {was!r} to {now!r}")


def compare_ingest(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    """Every behaviour of two x-ingest blocks of one operation."""
    # Fields are compared by their JSON Pointer: `userId` and `/userId` are the same field.
    for attr, kind in (
        ("event_field", "event-field-changed"),
        ("credential_field", "credential-field-changed"),
        ("project_field", "project-field-changed"),
        ("occurred_at_field", "occurred-at-field-changed"),
    ):
        was, now = getattr(old, attr), getattr(new, attr)
        if _at(was) != _at(now):
            out.add(kind, f"{where}.{attr}", was, now, BOTH, f"{attr} changed from {was!r} to {now!r}")
    _attributes(
        old,
        new,
        (
            ("event_name", "event-name-changed"),
            ("occurred_at_unit", "occurred-at-unit-changed"),
            ("id_format", "id-format-changed"),
            ("id_prefix", "id-prefix-changed"),
        ),
        where,
        "",
        out,
    )
    _identity(old, new, where, out)
    _payload(old, new, where, out)
    _reserved(old, new, where, out)
    _dedupe(old, new, where, out)
    _shape(old.response, new.response, f"{where}.response", "success-response-changed", out)
    _rate_limit(old, new, where, out)
    _batch(old, new, where, out)
    _kinds(old, new, where, out)
    _documented_only(old, new, where, out)
    if old.retention_days != new.retention_days:
        lowered = new.retention_days < old.retention_days
        out.add(
            "retention-lowered" if lowered else "retention-raised",
            f"{where}.retention",
            old.retention_days,
            new.retention_days,
            CLIENTS if lowered else SERVERS,
            f"events are kept {new.retention_days} days instead of {old.retention_days}",
        )
    if old.processing != new.processing:
        # Attempts and backoff are the server's business: no request or response changes.
        was, now = asdict(old.processing), asdict(new.processing)
        moved = [f"{name} {was[name]} -> {now[name]}" for name in was if was[name] != now[name]]
        out.add(
            "processing-changed",
            f"{where}.processing",
            was,
            now,
            NEITHER,
            "processing changed: " + ", ".join(moved),
        )
    _errors(old, new, where, out)


def _identity(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.identity, new.identity
    location = f"{where}.identity"
    if before.mode != after.mode:
        out.add(
            "identity-mode-changed",
            f"{location}.mode",
            before.mode,
            after.mode,
            BOTH,
            f"identity mode changed from {before.mode} to {after.mode}",
        )
    # Compared by pointer (`userId` is `/userId`), reported as the spec writes them.
    old_names, new_names = before.names, after.names
    old_at, new_at = [_at(n) for n in old_names], [_at(n) for n in new_names]
    if set(old_at) != set(new_at):
        widened = {n for n in new_names if _at(n) not in old_at}
        narrowed = {n for n in old_names if _at(n) not in new_at}
        out.add(
            "identity-fields-changed",
            f"{location}.fields",
            list(old_names),
            list(new_names),
            (bool(narrowed), bool(widened)),
            "identity fields changed"
            + (f"; added {sorted(widened)}" if widened else "")
            + (f"; removed {sorted(narrowed)}" if narrowed else ""),
        )
    else:
        common = [n for n in old_at if n in new_at]
        reordered = common != [n for n in new_at if n in old_at]
        # Under exactly_one the order never decides anything; under first_present it picks the contact.
        if reordered and "first_present" in (before.mode, after.mode):
            out.add(
                "identity-order-changed",
                f"{location}.fields",
                list(old_names),
                list(new_names),
                BOTH,
                f"identity resolution order changed from {' > '.join(old_names)} to {' > '.join(new_names)}",
            )
    old_fields = {f.pointer: f for f in before.fields}
    for f in after.fields:
        was = old_fields.get(f.pointer)
        if was is not None and (was.kind, was.normalize) != (f.kind, f.normalize):
            out.add(
                "identity-normalize-changed",
                f"{location}.fields.{f.name}",
                {"kind": was.kind, "normalize": was.normalize},
                {"kind": f.kind, "normalize": f.normalize},
                BOTH,
                f"identity field {f.name!r} is now {f.kind} normalised {f.normalize}"
                f" (was {was.kind} normalised {was.normalize})",
            )
    _error_use(old, new, before.missing_error, after.missing_error, f"{location}.missing_error", out)
    _error_use(old, new, before.conflict_error, after.conflict_error, f"{location}.conflict_error", out)


def _payload(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.payload, new.payload
    if before.pointer != after.pointer:
        out.add(
            "payload-field-changed",
            f"{where}.payload.field",
            before.field,
            after.field,
            BOTH,
            f"the payload moved from {before.field!r} to {after.field!r}",
        )
    if before.validation != after.validation:
        stricter = after.validation == "required"
        out.add(
            "payload-validation-narrowed" if stricter else "payload-validation-widened",
            f"{where}.payload.validation",
            before.validation,
            after.validation,
            CLIENTS if stricter else SERVERS,
            f"payload validation changed from {before.validation} to {after.validation}"
            + (" (undefined events are now refused)" if stricter else " (undefined events are now accepted)"),
        )
    _error_use(old, new, before.mismatch_error, after.mismatch_error, f"{where}.payload.mismatch_error", out)
    _error_use(
        old,
        new,
        before.undefined_event_error,
        after.undefined_event_error,
        f"{where}.payload.undefined_event_error",
        out,
    )
    cap_before, cap_after = old.payload_limit.default_bytes, new.payload_limit.default_bytes
    if cap_before != cap_after:
        lowered = cap_after < cap_before
        out.add(
            "payload-limit-lowered" if lowered else "payload-limit-raised",
            f"{where}.payload_limit.default_bytes",
            cap_before,
            cap_after,
            CLIENTS if lowered else SERVERS,
            f"the default payload cap was {'lowered' if lowered else 'raised'}"
            f" from {cap_before} to {cap_after} bytes",
        )
    _error_use(
        old, new, old.payload_limit.error, new.payload_limit.error, f"{where}.payload_limit.error", out
    )


def _reserved(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before = set(old.reserved.prefixes) if old.reserved else set()
    after = set(new.reserved.prefixes) if new.reserved else set()
    location = f"{where}.reserved_prefixes"
    if after - before:
        out.add(
            "reserved-prefix-added",
            location,
            sorted(before),
            sorted(after),
            CLIENTS,
            f"event names starting with {', '.join(sorted(after - before))} are now refused",
        )
    if before - after:
        out.add(
            "reserved-prefix-removed",
            location,
            sorted(before),
            sorted(after),
            SERVERS,
            f"event names starting with {', '.join(sorted(before - after))} are now accepted",
        )
    if old.reserved and new.reserved:
        _error_use(old, new, old.reserved.error, new.reserved.error, f"{location}.error", out)


def _dedupe(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.dedupe, new.dedupe
    location = f"{where}.dedupe"
    if before is None or after is None:
        if before is not after:
            out.add(
                "dedupe-added" if before is None else "dedupe-removed",
                location,
                None if before is None else before.key.name,
                None if after is None else after.key.name,
                BOTH,
                "requests are now deduplicated" if before is None else "requests are no longer deduplicated",
            )
        return
    _attributes(
        before,
        after,
        (
            ("scope", "dedupe-scope-changed"),
            ("window_seconds", "dedupe-window-changed"),
            ("on_body_mismatch", "dedupe-mismatch-changed"),
        ),
        location,
        "dedupe ",
        out,
    )
    if _key_meaning(before.key) != _key_meaning(after.key):
        out.add(
            "dedupe-key-changed",
            f"{location}.key",
            asdict(before.key),
            asdict(after.key),
            BOTH,
            f"the idempotency key is the {after.key.location} {after.key.name!r} "
            f"instead of the {before.key.location} {before.key.name!r}",
        )
    _error_use(old, new, before.mismatch_error, after.mismatch_error, f"{location}.mismatch_error", out)
    _shape(before.replay, after.replay, f"{location}.replay", "dedupe-replay-changed", out)


def _key_meaning(key: KeySource) -> tuple[str, str]:
    """A header's name is case-insensitive on the wire; a body field's or a path parameter's is not."""
    return key.location, key.name.lower() if key.location == "header" else key.name


def _shape(before: ResponseShape, after: ResponseShape, location: str, kind: str, out: Collector) -> None:
    """A body built from the stored event: its status, envelope, header and fields (as a set of members)."""
    if before.status != after.status:
        out.add(
            f"{kind.rsplit('-', 1)[0]}-status-changed",
            f"{location}.status",
            before.status,
            after.status,
            BOTH,
            f"answers {after.status} instead of {before.status}",
        )
    was, now = _meaning(before), _meaning(after)
    if was != now:
        out.add(
            kind,
            location,
            was,
            now,
            BOTH,
            "the body built from the stored event changed ("
            + ", ".join(name for name in was if was[name] != now[name])
            + ")",
        )


def _meaning(shape: ResponseShape) -> dict[str, Any]:
    """What a shape says, without what does not reach the wire: member order, a header name's case."""
    return {
        "fields": {f.name: {"source": f.source, "const": key_of(f.const)} for f in shape.fields},
        "envelope": shape.envelope,
        "header": shape.header.lower() if shape.header else None,
        "body": shape.kind,  # a JSON object, a constant text, or no body at all
        "text": shape.text,
    }


def _rate_limit(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.rate_limit, new.rate_limit
    location = f"{where}.rate_limit"
    if before is None or after is None:
        if before is not after:
            out.add(
                "rate-limit-added" if before is None else "rate-limit-removed",
                location,
                None if before is None else asdict(before),
                None if after is None else asdict(after),
                CLIENTS if before is None else SERVERS,
                "requests are now rate limited" if before is None else "requests are no longer rate limited",
            )
        return
    was, now = before.requests / before.per_seconds, after.requests / after.per_seconds
    if was != now:
        lowered = now < was
        out.add(
            "rate-limit-lowered" if lowered else "rate-limit-raised",
            location,
            asdict(before),
            asdict(after),
            CLIENTS if lowered else SERVERS,
            f"the rate limit is {after.requests} per {after.per_seconds} s instead of "
            f"{before.requests} per {before.per_seconds} s",
        )
    _error_use(old, new, before.error, after.error, f"{location}.error", out)


def _at(name: str | None) -> str | None:
    return None if name is None else field_pointer(name)


def _place(items_field: str) -> str:
    """Where a batch's items are, said: a field, or the body itself (the empty pointer)."""
    return repr(items_field) if items_field else "the body itself (an array)"


def _kinds(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    """Items of several kinds: the discriminator, the kinds taken, and each kind's own rules."""
    before, after = old.items, new.items
    location = f"{where}.kinds"
    if before.discriminator != after.discriminator:
        out.add(
            "kinds-discriminator-changed",
            f"{location}.discriminator",
            before.discriminator,
            after.discriminator,
            BOTH,
            f"the item's kind is read from {after.discriminator or 'nowhere'} instead of "
            f"{before.discriminator or 'nowhere'}",
        )
        return
    was = {k.value: k for k in before.kinds if k.value is not None}
    now = {k.value: k for k in after.kinds if k.value is not None}
    for value in sorted(was.keys() - now.keys()):
        out.add(
            "kind-removed",
            f"{location}.{value}",
            value,
            None,
            CLIENTS,
            f"items of kind {value!r} are refused",
        )
    for value in sorted(now.keys() - was.keys()):
        out.add(
            "kind-added", f"{location}.{value}", None, value, SERVERS, f"items of kind {value!r} are taken"
        )
    for value in sorted(was.keys() & now.keys()):
        a, b = was[value], now[value]
        rules = (
            lambda k: (k.event, k.event_name),
            lambda k: (k.identity.mode, tuple(f.pointer for f in k.identity.fields)),
            lambda k: k.payload.pointer,
        )
        if any(rule(a) != rule(b) for rule in rules):
            out.add(
                "kind-rules-changed",
                f"{location}.{value}",
                {"event": a.event or a.event_name, "payload": a.payload.pointer},
                {"event": b.event or b.event_name, "payload": b.payload.pointer},
                BOTH,
                f"items of kind {value!r} are read by other rules (event, identity or payload)",
            )


def _batch(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.batch, new.batch
    location = f"{where}.batch"
    if before is None or after is None:
        if before is not after:
            out.add(
                "batch-added" if before is None else "batch-removed",
                location,
                None if before is None else before.items_field,
                None if after is None else after.items_field,
                BOTH,
                "the operation now takes a batch of events"
                if before is None
                else "the operation no longer takes a batch",
            )
        return
    if _at(before.items_field) != _at(after.items_field):
        out.add(
            "batch-items-field-changed",
            f"{location}.items_field",
            before.items_field,
            after.items_field,
            BOTH,
            f"the batch's events moved from {_place(before.items_field)} to {_place(after.items_field)}",
        )
    if before.acceptance != after.acceptance:
        refusing = after.acceptance == "all_or_nothing"
        out.add(
            "batch-acceptance-changed",
            f"{location}.acceptance",
            before.acceptance,
            after.acceptance,
            CLIENTS if refusing else SERVERS,
            "one refused item now refuses the whole batch"
            if refusing
            else "a refused item no longer refuses the whole batch: the others are stored",
        )
    if before.max_items != after.max_items:
        lowered = after.max_items < before.max_items
        out.add(
            "batch-max-items-lowered" if lowered else "batch-max-items-raised",
            f"{location}.max_items",
            before.max_items,
            after.max_items,
            CLIENTS if lowered else SERVERS,
            f"a batch holds at most {after.max_items} events instead of {before.max_items}",
        )
    _shape(before.response, after.response, f"{location}.response", "batch-response-changed", out)
    if before.result is None or after.result is None:
        if before.result is not after.result:
            out.add(
                "batch-result-changed",
                f"{location}.result",
                None,
                None,
                BOTH,
                "the batch's per-item result changed",
            )
    else:
        _shape(before.result, after.result, f"{location}.result", "batch-result-changed", out)


def _documented_only(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = set(old.documented_only), set(new.documented_only)
    if before != after:
        out.add(
            "documented-only-changed",
            f"{where}.documented_only",
            sorted(before),
            sorted(after),
            NEITHER,  # who answers a status (the server or a gateway) is not on the wire
            f"statuses documented but answered in front of the server: {sorted(before)} -> {sorted(after)}",
        )


def compare_read(old: Read, new: Read, where: str, out: Collector) -> None:
    """Two x-ingest-read blocks of one operation."""
    if old.id_parameter != new.id_parameter:
        out.add(
            "read-id-parameter-changed",
            f"{where}.id_parameter",
            old.id_parameter,
            new.id_parameter,
            BOTH,
            f"the event id is read from {new.id_parameter!r} instead of {old.id_parameter!r}",
        )
    _shape(old.response, new.response, f"{where}.response", "read-response-changed", out)
    if old.not_found_error != new.not_found_error:
        out.add(
            "read-not-found-changed",
            f"{where}.not_found_error",
            old.not_found_error,
            new.not_found_error,
            BOTH,
            f"an unknown event answers {new.not_found_error!r} instead of {old.not_found_error!r}",
        )


def _error_use(
    old: Ingest, new: Ingest, before: str | None, after: str | None, location: str, out: Collector
) -> None:
    """A behaviour now answers with another catalogue entry (a key rename with the same body is no change)."""
    if before == after:
        return  # the same entry: edits to it are reported from the catalogue
    was = _entry(old, before)
    now = _entry(new, after)
    if was == now:
        return
    out.add(
        "error-use-changed",
        location,
        before,
        after,
        BOTH,
        f"now answers error {after!r} ({_entry_text(now)}) instead of {before!r} ({_entry_text(was)})",
    )


def _entry(ingest: Ingest, key: str | None) -> tuple[int, str, str] | None:
    entry = ingest.errors.catalogue.get(key) if key else None
    return None if entry is None else (entry.status, key_of(dict(entry.fields)), entry.message)


def _entry_text(entry: tuple[int, str, str] | None) -> str:
    return "none" if entry is None else f"{entry[0]} {entry[2]!r}"


def _errors(old: Ingest, new: Ingest, where: str, out: Collector) -> None:
    before, after = old.errors, new.errors
    location = f"{where}.errors"
    for attr in (
        "media_type",
        "status_pointer",
        "message_pointer",
        "details_pointer",
        "detail_item",
        "path_pointer",
        "status_as_text",
    ):
        was, now = getattr(before, attr), getattr(after, attr)
        if was != now:
            out.add(
                "error-envelope-changed",
                f"{location}.{attr}",
                was,
                now,
                BOTH,
                f"error bodies: {attr} changed from {was!r} to {now!r}",
            )
    removed = [k for k in before.catalogue if k not in after.catalogue]
    added = [k for k in after.catalogue if k not in before.catalogue]
    # A key is the spec's own name for an entry; renaming it with the same body changes nothing on the wire.
    for key in list(removed):
        twin = next((k for k in added if _same(before.catalogue[key], after.catalogue[k])), None)
        if twin is not None:
            removed.remove(key)
            added.remove(twin)
            out.add(
                "error-key-renamed",
                f"{location}.catalogue.{key}",
                key,
                twin,
                NEITHER,
                f"catalogue key {key!r} renamed to {twin!r}; the body is unchanged",
            )
    for key in removed:
        entry = before.catalogue[key]
        out.add(
            "error-removed",
            f"{location}.catalogue.{key}",
            _entry_value(entry),
            None,
            BOTH,
            f"error {key!r} ({entry.status}) was removed from the catalogue",
        )
    for key in added:
        entry = after.catalogue[key]
        out.add(
            "error-added",
            f"{location}.catalogue.{key}",
            None,
            _entry_value(entry),
            SERVERS,
            f"error {key!r} ({entry.status}) was added to the catalogue",
        )
    for key, was_entry in before.catalogue.items():
        now_entry = after.catalogue.get(key)
        if now_entry is None:
            continue
        entry_at = f"{location}.catalogue.{key}"
        if was_entry.status != now_entry.status:
            out.add(
                "error-status-changed",
                f"{entry_at}.status",
                was_entry.status,
                now_entry.status,
                BOTH,
                f"error {key!r} answers {now_entry.status} instead of {was_entry.status}",
            )
        if dict(was_entry.fields) != dict(now_entry.fields):
            out.add(
                "error-name-changed",
                f"{entry_at}.fields",
                dict(was_entry.fields),
                dict(now_entry.fields),
                BOTH,
                f"error {key!r}: its constant fields changed from {show(dict(was_entry.fields))}"
                f" to {show(dict(now_entry.fields))}",
            )
        if was_entry.message != now_entry.message:
            out.add(
                "error-message-changed",
                f"{entry_at}.message",
                was_entry.message,
                now_entry.message,
                BOTH,
                f"error {key!r}: message changed from {was_entry.message!r} to {now_entry.message!r}",
            )


def _same(a: ErrorEntry, b: ErrorEntry) -> bool:
    return (a.status, dict(a.fields), a.message) == (b.status, dict(b.fields), b.message)


def _entry_value(entry: ErrorEntry) -> dict[str, Any]:
    return {"status": entry.status, "fields": dict(entry.fields), "message": entry.message}
