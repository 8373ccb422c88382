"""RFC 3339 timestamps, normalised to UTC with millisecond precision (`2026-06-08T14:15:00.000Z`).

Requests may also give a time as a number of seconds or milliseconds since the Unix epoch
(`from_epoch`); it is kept in the same form.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now() -> str:
    return from_unix(time.time())


# What follows the second, for each millisecond: written once rather than formatted on every call.
_MILLIS_Z = tuple(f".{ms:03d}Z" for ms in range(1000))
_MILLIS_OFFSET = tuple(f".{ms:03d}+00:00" for ms in range(1000))


def from_unix(moment: float, offset: bool = False) -> str:
    """The stored form of `moment`, seconds since the epoch (as time.time() gives them); with
    `offset`, the same instant ending in +00:00 rather than Z (the log's form)."""
    global _second
    # Microseconds rounded as datetime.fromtimestamp rounds them (half to even), then cut to
    # milliseconds: the same text as format_utc(datetime.fromtimestamp(moment, UTC)).
    whole = int(moment)
    micros = round((moment - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    second, prefix = _second
    if whole != second:
        prefix = format_utc(datetime.fromtimestamp(whole, UTC))[:-5]
        _second = whole, prefix
    # The part up to the second is made once a second: a request or a log line needs only the
    # milliseconds.
    return prefix + (_MILLIS_OFFSET if offset else _MILLIS_Z)[micros // 1000]


_second: tuple[int, str] = (-1, "")


def format_utc(moment: datetime) -> str:
    """An aware datetime in the one format the API answers and storage keeps (text order is time order)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


# The one format format_utc writes, its time of day in range (a leap second aside).
_STORED_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")


def normalize(value: str) -> str | None:
    """The UTC form of an RFC 3339 date-time, or None when Python cannot represent it (e.g. year 0)."""
    if _STORED_FORM.fullmatch(value) and _is_date(value[:10]):
        return value  # already the stored form, as clients mostly send it
    text = value.upper()
    leap = text[17:19] == "60"  # RFC 3339 allows a leap second; Python does not
    if leap:
        text = text[:17] + "59" + text[19:]
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return None
        if leap:
            moment += timedelta(seconds=1)
        return format_utc(moment)
    except (ValueError, OverflowError):
        return None


@functools.lru_cache(maxsize=1024)
def _is_date(text: str) -> bool:
    """Whether YYYY-MM-DD names a day Python represents. Cached: a day's events share it."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def from_epoch(value: float, per_second: int) -> str | None:
    """The UTC form of `value` seconds (per_second=1) or milliseconds (1000) since the epoch, or None
    when it falls outside the years 1 to 9999."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        if isinstance(value, int):
            # Integer arithmetic: a float cannot hold every millisecond of 9999 exactly.
            return format_utc(EPOCH + timedelta(milliseconds=value * (1000 // per_second)))
        return format_utc(EPOCH + timedelta(seconds=value / per_second))
    except (OverflowError, ValueError):
        return None


# A number as text, as SDKs send epoch times ("1733461200000"): decimal digits, a sign, a fraction.
_NUMBER_TEXT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,9})?")


def number_of(text: str) -> int | float | None:
    """The number a text spells in plain decimal (`"1733461200000"`, `"1733461200.5"`), else None."""
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    return float(text) if "." in text else int(text)


@functools.lru_cache(maxsize=256)
def before(timestamp: str, seconds: float) -> str:
    """The stored form of the moment `seconds` before a stored timestamp. Cached: a batch's items
    are received in the same millisecond, and ask for the same moment."""
    return format_utc(datetime.fromisoformat(timestamp) - timedelta(seconds=seconds))
