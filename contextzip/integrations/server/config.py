"""The proxy's settings, its error type, and the per-request options (``contextzip`` field and headers).

Nothing here needs the ``server`` extra: the CLI builds and validates a :class:`ServerConfig` before anything is
served.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.integrations.messages import check_options

API_KEY_ENV = "CONTEXTZIP_UPSTREAM_API_KEY"
PROXY_TOKEN_ENV = "CONTEXTZIP_PROXY_TOKEN"
HEADER_OPTIONS = {"x-contextzip-target-tokens": "target_tokens", "x-contextzip-rate": "rate",
                  "x-contextzip-compressor": "compressor"}
BODY_OPTIONS = ("target_tokens", "rate", "compressor", "query", "documents")


@dataclass
class ServerConfig:
    """The proxy's settings.

    Args:
        upstream: base URL of the OpenAI-compatible API, with its version path (``https://api.openai.com/v1``).
        target_tokens / rate: default context budget (at most one); with neither, only requests that give a
            budget are compressed.
        compressor: default compressor: a registry name, or a compressor instance (served under its ``name``);
            token_counter: the token counter of compressors loaded by name.
        upstream_api_key: sent upstream as a bearer token (default: ``$CONTEXTZIP_UPSTREAM_API_KEY``).
        auth_token: the bearer token clients must send (default: ``$CONTEXTZIP_PROXY_TOKEN``; unset = no auth).
        max_request_bytes: larger request bodies get 413.
        max_request_tokens: requests whose context holds more tokens get 413, before any compression.
        upstream_timeout: seconds to wait for upstream (connect: ``connect_timeout``).
        max_batch: requests compressed together in one pass at most.
        max_wait_ms: how long a request waits for others to share its pass (the scheduler's window).
        max_queue: requests waiting for compression at most, per compressor; beyond, 429 with ``Retry-After``.
        compression_timeout: seconds a request may spend queued and compressed; beyond, 503 with ``Retry-After``.
        warm_up: load the default compressor's model at start-up rather than on the first request.
    """

    upstream: str
    target_tokens: int | None = None
    rate: float | None = None
    compressor: Any = "query-guided"
    token_counter: str | None = None
    upstream_api_key: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    max_request_bytes: int = 4 * 1024 * 1024
    max_request_tokens: int = 500_000
    upstream_timeout: float = 120.0
    connect_timeout: float = 10.0
    max_batch: int = 16
    max_wait_ms: float = 5.0
    max_queue: int = 256
    compression_timeout: float = 30.0
    warm_up: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.upstream, str) or not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, but got {self.upstream!r}")
        self.upstream = self.upstream.rstrip("/")
        if self.has_budget:
            resolve_budget(1, self.target_tokens, self.rate)
        for name in ("max_request_bytes", "max_request_tokens", "max_batch", "max_queue"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, but got {getattr(self, name)}")
        if not self.max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be >= 0, but got {self.max_wait_ms}")
        for name in ("upstream_timeout", "connect_timeout", "compression_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, but got {getattr(self, name)}")
        from contextzip.registry import compressor_names

        if isinstance(self.compressor, str) and self.compressor not in compressor_names():
            raise ValueError(f"compressor must be one of {compressor_names()}, but got {self.compressor!r}")
        if self.upstream_api_key is None:
            self.upstream_api_key = os.environ.get(API_KEY_ENV) or None
        if self.auth_token is None:
            self.auth_token = os.environ.get(PROXY_TOKEN_ENV) or None

    @property
    def has_budget(self) -> bool:
        """Whether requests are compressed without asking (a default budget is set)."""
        return self.target_tokens is not None or self.rate is not None

    @property
    def compressor_name(self) -> str:
        """The default compressor's registry name (an instance is served under its ``name``)."""
        return self.compressor if isinstance(self.compressor, str) else self.compressor.name


class ProxyError(Exception):
    """An error answered as ``{"error": {"message", "type", "code"}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type, code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response, in OpenAI's shape."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}

    def headers(self) -> dict[str, str] | None:
        """Extra response headers: a 401 says which scheme to use; a 429 / 503 when to try again."""
        if self.status == 401:
            return {"WWW-Authenticate": "Bearer"}
        if self.retry_after is not None:
            return {"Retry-After": str(max(1, round(self.retry_after)))}
        return None


def parse_options(body: dict[str, Any], headers: Mapping[str, str], config: ServerConfig,
                  known: list[str]) -> dict[str, Any]:
    """One request's options: headers, then the ``contextzip`` field (removed from ``body``), then defaults.

    Returns ``target_tokens``, ``rate`` and ``compressor`` always (the budget ``None``, ``None`` when nothing is to
    be compressed; the default compressor as configured, instance or name), ``query`` / ``documents`` when given.
    Raises :class:`ProxyError` (400) for a bad option, naming it; ``known`` is the registry's compressor names.
    """
    options: dict[str, Any] = {}
    for header, key in HEADER_OPTIONS.items():
        if header in headers:
            raw = headers[header].strip()
            try:
                options[key] = int(raw) if key == "target_tokens" else float(raw) if key == "rate" else raw
            except ValueError:
                raise ProxyError(400, f"header {header} must be a number, but got {raw!r}") from None
    try:
        options.update(check_options(body.pop("contextzip", None), BODY_OPTIONS))
    except (TypeError, ValueError) as exc:
        raise ProxyError(400, str(exc)) from None
    if "target_tokens" in options and "rate" in options:
        raise ProxyError(400, "give one of target_tokens or rate, not both")
    if "target_tokens" not in options and "rate" not in options:
        options["target_tokens"], options["rate"] = config.target_tokens, config.rate
    else:
        options.setdefault("target_tokens", None)
        options.setdefault("rate", None)
    options.setdefault("compressor", config.compressor_name)
    if options["target_tokens"] is not None or options["rate"] is not None:
        try:
            resolve_budget(1, options["target_tokens"], options["rate"])
        except (TypeError, ValueError) as exc:
            raise ProxyError(400, str(exc)) from None
    if options["compressor"] not in known:
        raise ProxyError(400, f"compressor must be one of {known}, but got {options['compressor']!r}")
    if options["compressor"] == config.compressor_name:
        options["compressor"] = config.compressor
    return options
