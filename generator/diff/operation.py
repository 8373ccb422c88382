"""Compare one operation in two versions: security, parameters, request body, responses, x-ingest.

Parameters are paired by location and name (a header's name in any case); request and response
media types are sets; success (2xx) and error statuses are judged apart, as oasdiff does: a client
relies on the success it was promised, while an error it was told of may stop being answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec.model import Operation, Parameter, Response, SecurityScheme, escape
from .ingest import compare_ingest, compare_read
from .model import BOTH, CLIENTS, NEITHER, SERVERS, Collector, Impact
from .schemas import compare_schemas, plain

__all__ = ["compare_operations", "endpoint"]


def endpoint(op: Operation) -> str:
    return f"{op.method} {op.path}"


def compare_operations(old: Operation, new: Operation, out: Collector) -> None:
    """Every change between two versions of one operation."""
    out.pointer = new.pointer
    where = new.operation_id
    if old.operation_id != new.operation_id:
        out.add(
            "operation-renamed",
            where,
            old.operation_id,
            new.operation_id,
            CLIENTS,  # generated clients name their methods after it
            f"{endpoint(new)}: operationId {old.operation_id} was renamed to {new.operation_id}",
        )
    _security(old, new, where, out)
    _parameters(old, new, where, out)
    _request_body(old, new, where, out)
    _responses(old, new, where, out)
    out.pointer = new.pointer + "/x-ingest"
    if old.ingest is not None and new.ingest is not None:
        compare_ingest(old.ingest, new.ingest, f"{where} x-ingest", out)
    elif (old.ingest is None) != (new.ingest is None):
        added = old.ingest is None
        out.add(
            "x-ingest-added" if added else "x-ingest-removed",
            f"{where} x-ingest",
            not added,
            added,
            BOTH,
            f"the x-ingest block was {'added' if added else 'removed'}",
        )
    out.pointer = new.pointer + "/x-ingest-read"
    if old.read is not None and new.read is not None:
        compare_read(old.read, new.read, f"{where} x-ingest-read", out)
    elif (old.read is None) != (new.read is None):
        added = old.read is None
        out.add(
            "x-ingest-read-added" if added else "x-ingest-read-removed",
            f"{where} x-ingest-read",
            not added,
            added,
            BOTH,
            f"the x-ingest-read block was {'added' if added else 'removed'}",
        )
    out.pointer = new.pointer


# --- security ------------------------------------------------------------------------------------


def _signature(scheme: SecurityScheme) -> tuple[str, str]:
    """What a scheme asks of a request: its kind and, for an apiKey, where (a header in any case); for
    HTTP basic, which part is the key (x-ingest-basic)."""
    if scheme.kind == "basic":
        return scheme.kind, scheme.basic_key
    parameter = scheme.parameter or ""
    return scheme.kind, parameter.lower() if scheme.kind == "header" else parameter


def _security(old: Operation, new: Operation, where: str, out: Collector) -> None:
    if old.secured != new.secured:
        out.add(
            "security-changed",
            where,
            old.secured,
            new.secured,
            CLIENTS if new.secured else SERVERS,
            "the operation now requires an API key"
            if new.secured
            else "the operation no longer needs an API key",
        )
    old_schemes = {s.name: s for s in old.schemes}
    for scheme in new.schemes:
        was = old_schemes.get(scheme.name)
        if was is not None and _signature(was) != _signature(scheme):
            out.add(
                "security-scheme-type-changed",
                f"{where} security.{scheme.name}",
                "/".join(filter(None, _signature(was))),
                "/".join(filter(None, _signature(scheme))),
                BOTH,
                f"security scheme {scheme.name!r} is now {_describe(scheme)} (was {_describe(was)})",
            )
    before = {frozenset(map(_signature, alternative)) for alternative in old.security}
    after = {frozenset(map(_signature, alternative)) for alternative in new.security}
    names_before = {frozenset(s.name for s in alternative) for alternative in old.security}
    names_after = {frozenset(s.name for s in alternative) for alternative in new.security}
    if names_before == names_after:
        return  # the same schemes, each compared above
    if old.secured and new.secured and before != after:
        for gone in before - after:
            out.add(
                "security-alternative-removed",
                f"{where} security",
                sorted(map("/".join, gone)),
                None,
                CLIENTS,
                f"a key sent as {_alternative(gone)} is no longer accepted",
            )
        for came in after - before:
            out.add(
                "security-alternative-added",
                f"{where} security",
                None,
                sorted(map("/".join, came)),
                SERVERS,
                f"a key may now be sent as {_alternative(came)}",
            )


def _describe(scheme: SecurityScheme) -> str:
    kind, parameter = _signature(scheme)
    return f"{kind} {parameter!r}" if parameter else kind


def _alternative(signatures: frozenset[tuple[str, str]]) -> str:
    return " and ".join(
        f"{kind} {parameter!r}" if parameter else kind for kind, parameter in sorted(signatures)
    )


# --- parameters ----------------------------------------------------------------------------------


def _parameter_key(parameter: Parameter) -> tuple[str, str]:
    name = parameter.name.lower() if parameter.location == "header" else parameter.name
    return parameter.location, name


def _parameters(old: Operation, new: Operation, where: str, out: Collector) -> None:
    before = {_parameter_key(p): p for p in old.parameters}
    after = {_parameter_key(p): p for p in new.parameters}
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        label = f"{key[0]} parameter {(now or was).name!r}"  # type: ignore[union-attr]
        location = f"{where} parameters.{key[0]}.{(now or was).name}"  # type: ignore[union-attr]
        if was is None:
            assert now is not None
            # Old clients do not send a required one; a server built from OLD ignores it (oasdiff: INFO
            # for an optional parameter, ERR for a required one).
            impact: Impact = CLIENTS if now.required else NEITHER
            kind = "parameter-added"
            out.add(
                kind,
                location,
                None,
                now.name,
                impact,
                f"{'required' if now.required else 'optional'} {label} was added",
            )
        elif now is None:
            # Old clients still send it and NEW ignores it; a server built from OLD still demands a
            # required one of NEW clients.
            out.add(
                "parameter-removed",
                location,
                was.name,
                None,
                SERVERS if was.required else NEITHER,
                f"{'required' if was.required else 'optional'} {label} was removed",
            )
        else:
            if was.required != now.required:
                out.add(
                    "parameter-required" if now.required else "parameter-optional",
                    location,
                    was.required,
                    now.required,
                    CLIENTS if now.required else SERVERS,
                    f"{label} became {'required' if now.required else 'optional'}",
                )
            compare_schemas(was.schema, now.schema, location, "request", out)


# --- request body --------------------------------------------------------------------------------


def _request_body(old: Operation, new: Operation, where: str, out: Collector) -> None:
    location = f"{where} request"
    if old.request_required != new.request_required:
        out.add(
            "request-body-required" if new.request_required else "request-body-optional",
            location,
            old.request_required,
            new.request_required,
            CLIENTS if new.request_required else SERVERS,
            f"the request body became {'required' if new.request_required else 'optional'}",
        )
    before, after = _media_types(old.request_media_types), _media_types(new.request_media_types)
    for media_type in sorted(before.keys() - after.keys()):
        out.add(
            "request-media-type-removed",
            location,
            before[media_type],
            None,
            CLIENTS,
            f"the request body is no longer taken as {before[media_type]}",
        )
    for media_type in sorted(after.keys() - before.keys()):
        out.add(
            "request-media-type-added",
            location,
            None,
            after[media_type],
            SERVERS,
            f"the request body may now be sent as {after[media_type]}",
        )
    media_type = escape(new.request_media_types[0]) if new.request_media_types else "application~1json"
    at = f"{new.pointer}/requestBody/content/{media_type}/schema"
    compare_schemas(old.request_schema, new.request_schema, location, "request", out, at=at)


def _media_types(names: Any) -> dict[str, str]:
    """Media types by their case-insensitive essence and parameters, as written."""
    return {";".join(part.strip().lower() for part in str(name).split(";")): str(name) for name in names}


# --- responses -----------------------------------------------------------------------------------


def _responses(old: Operation, new: Operation, where: str, out: Collector) -> None:
    for status in sorted(set(old.responses) | set(new.responses)):
        location = f"{where} response[{status}]"
        before, after = old.responses.get(status), new.responses.get(status)
        success = 200 <= status < 300
        what = "success" if success else "error"
        out.pointer = f"{(new if after else old).pointer}/responses/{status}"
        if after is None:
            # A client relies on the success it was promised (oasdiff: ERR); an error it was told of
            # may stop being answered (oasdiff: INFO), though an OLD server still answers it to NEW
            # clients that no longer expect it.
            out.add(
                f"{what}-status-removed",
                location,
                status,
                None,
                BOTH if success else SERVERS,
                f"{what} status {status} is no longer documented",
            )
            continue
        if before is None:
            out.add(
                f"{what}-status-added",
                location,
                None,
                status,
                NEITHER,
                f"{what} status {status} is now documented",
            )
            continue
        _response_media_types(before, after, location, status, out)
        at = f"{out.pointer}/content/{escape(after.media_type or '')}/schema"
        compare_schemas(before.schema or {}, after.schema or {}, location, "response", out, at=at)
        _headers(before, after, location, status, out)
    out.pointer = new.pointer


def _response_media_types(
    before: Response, after: Response, location: str, status: int, out: Collector
) -> None:
    was = _media_types(before.media_types)
    now = _media_types(after.media_types)
    for media_type in sorted(was.keys() - now.keys()):
        out.add(
            "response-media-type-removed",
            location,
            was[media_type],
            None,
            BOTH,
            f"the {status} body is no longer {was[media_type]}",
        )
    for media_type in sorted(now.keys() - was.keys()):
        # The server picks the media type it answers with: a NEW one is announced, not imposed
        # (oasdiff: INFO).
        out.add(
            "response-media-type-added",
            location,
            None,
            now[media_type],
            NEITHER,
            f"the {status} body may now be {now[media_type]}",
        )


def _headers(before: Response, after: Response, location: str, status: int, out: Collector) -> None:
    was = {str(name).lower(): (str(name), header) for name, header in before.header_objects.items()}
    now = {str(name).lower(): (str(name), header) for name, header in after.header_objects.items()}
    for key in sorted(set(was) | set(now)):
        old_name, old_header = was.get(key, ("", None))
        new_name, new_header = now.get(key, ("", None))
        at = f"{location}.headers.{new_name or old_name}"
        old_required = isinstance(old_header, Mapping) and bool(old_header.get("required"))
        new_required = isinstance(new_header, Mapping) and bool(new_header.get("required"))
        if new_header is None:
            # oasdiff: ERR for a required header, WARN for an optional one (clients could not rely on it).
            out.add(
                "header-removed",
                at,
                old_name,
                None,
                CLIENTS if old_required else NEITHER,
                f"the {status} response no longer documents the {_required(old_required)}header {old_name}",
            )
            continue
        if old_header is None:
            out.add(
                "header-added",
                at,
                None,
                new_name,
                SERVERS if new_required else NEITHER,
                f"the {status} response now documents the {_required(new_required)}header {new_name}",
            )
            continue
        if old_required != new_required:
            out.add(
                "header-required" if new_required else "header-optional",
                at,
                old_required,
                new_required,
                SERVERS if new_required else CLIENTS,
                f"the {status} response header {new_name} became "
                + ("required" if new_required else "optional"),
            )
        old_schema = old_header.get("schema") if isinstance(old_header, Mapping) else None
        new_schema = new_header.get("schema") if isinstance(new_header, Mapping) else None
        if plain(old_schema) != plain(new_schema):
            pointer = f"{out.pointer}/headers/{escape(new_name)}/schema"
            compare_schemas(old_schema or {}, new_schema or {}, at, "response", out, at=pointer)


def _required(required: bool) -> str:
    return "required " if required else ""
