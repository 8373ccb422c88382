"""How the suite reaches a deployment: timeout, TLS, proxy, extra headers and pace, applied alike to
both HTTP stacks it uses (httpx for scenarios, the constraint phase and the preflight; requests, under
Schemathesis, for fuzzing), from one set of options."""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import requests

DEFAULT_TIMEOUT = 30.0
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


class TransportProblem(Exception):
    """An option that cannot be used (a bad header, a bad rate)."""


@dataclass(frozen=True)
class Transport:
    """What every request of a run is sent with."""

    timeout: float = DEFAULT_TIMEOUT
    # True, False (no verification) or the path of a CA bundle.
    verify: bool | str = True
    # A client certificate (PEM) and its key (when not in the same file).
    cert: str | None = None
    cert_key: str | None = None
    proxy: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # At most this many requests per second (None: no pacing).
    rate: float | None = None
    # A reply slower than this (seconds) fails the `max_response_time` check.
    max_response_time: float | None = None

    def _cert(self) -> Any:
        if self.cert is None:
            return None
        return (self.cert, self.cert_key) if self.cert_key else self.cert

    def client(self, **options: Any) -> httpx.Client:
        hooks = {"request": [lambda _: pace(self.rate)]}
        return httpx.Client(**self._httpx(), event_hooks=hooks, **options)

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        async def paced(_: httpx.Request) -> None:
            pace(self.rate)

        return httpx.AsyncClient(**self._httpx(), event_hooks={"request": [paced]}, **options)

    def _httpx(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "verify": ssl_context(self.verify, self._cert()),
            "proxy": self.proxy,
        }

    def session(self) -> requests.Session:
        """A requests session for Schemathesis, configured like the httpx clients."""
        session = _PacedSession(self.rate)
        session.verify = self.verify
        session.cert = self._cert()
        if self.proxy:
            session.proxies = {"http": self.proxy, "https": self.proxy}
        return session

    def requests_options(self) -> dict[str, Any]:
        """The per-request options of requests (which win over a session's own settings)."""
        options: dict[str, Any] = {"timeout": self.timeout, "verify": self.verify}
        if self.cert is not None:
            options["cert"] = self._cert()
        if self.proxy:
            options["proxies"] = {"http": self.proxy, "https": self.proxy}
        return options


@functools.cache
def ssl_context(verify: bool | str, cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    """The TLS settings of a run's clients, made once: loading a CA bundle costs about 30 ms, and a
    run makes a client per scenario."""
    if cert is None and not isinstance(verify, str):
        return httpx.create_ssl_context(verify=verify)  # what httpx makes of `verify` itself
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(*(cert if isinstance(cert, tuple) else (cert,)))
    return context


class _PacedSession(requests.Session):
    def __init__(self, rate: float | None) -> None:
        super().__init__()
        self.rate = rate

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        pace(self.rate)
        return super().request(*args, **kwargs)


_LOCK = threading.Lock()
_NEXT = [0.0]


def pace(rate: float | None) -> None:
    """Wait until this process may send its next request under `rate` requests per second."""
    if not rate:
        return
    with _LOCK:
        now = time.monotonic()
        start = max(now, _NEXT[0])
        _NEXT[0] = start + 1.0 / rate
    if start > now:
        time.sleep(start - now)


def parse_rate(text: str) -> float:
    """`10/s`, `100/m` or `1000/h` (Schemathesis's form) as requests per second."""
    count, _, unit = text.strip().partition("/")
    try:
        number = float(count)
    except ValueError:
        number = 0.0
    if number <= 0 or unit.strip().lower() not in _PER:
        raise TransportProblem(f"--rate-limit must read like 10/s, 100/m or 1000/h, got {text!r}")
    return number / _PER[unit.strip().lower()]


def parse_headers(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`Name: value` options as a mapping."""
    headers = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            raise TransportProblem(f"-H/--header must read 'Name: value', got {value!r}")
        headers[name.strip()] = rest.strip()
    return headers


def make_transport(
    *,
    headers: tuple[str, ...] | list[str] = (),
    request_timeout: float | None = None,
    tls_verify: str | None = None,
    cacert: str | None = None,
    cert: str | None = None,
    cert_key: str | None = None,
    proxy: str | None = None,
    rate_limit: str | None = None,
    max_response_time: float | None = None,
) -> Transport:
    """A `Transport` from the command-line options (shared by `ingestspec contract` and pytest)."""
    verify: bool | str = True
    if tls_verify is not None:
        lowered = tls_verify.strip().lower()
        verify = (
            lowered not in ("false", "0", "no")
            if lowered in ("true", "false", "1", "0", "yes", "no")
            else tls_verify
        )
    if cacert:
        verify = cacert
    for path in (verify if isinstance(verify, str) else None, cert, cert_key):
        if path is not None and not Path(path).is_file():
            raise TransportProblem(f"no such file: {path}")
    return Transport(
        timeout=request_timeout or DEFAULT_TIMEOUT,
        verify=verify,
        cert=cert,
        cert_key=cert_key,
        proxy=proxy,
        headers=parse_headers(headers),
        rate=parse_rate(rate_limit) if rate_limit else None,
        max_response_time=max_response_time,
    )
