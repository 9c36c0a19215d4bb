"""A compressing, OpenAI-compatible proxy: ``contextzip serve --upstream URL``.

Clients point their OpenAI SDK at the proxy (``base_url="http://127.0.0.1:8000/v1"``); each
``/v1/chat/completions`` request has its context compressed (see :mod:`contextzip.integrations.messages`:
``<context>`` blocks, marked content parts, or ``contextzip.documents``) and goes on to ``{upstream}/chat/completions``;
the answer, streamed (SSE) or not, comes back unchanged. ``/v1/models`` is passed through; ``/healthz`` and
``/metrics`` (JSON, or the Prometheus text format with ``?format=prometheus``) are the proxy's own.

Per request, an extension field ``"contextzip": {"target_tokens": 800, "compressor": "truncate", "query": ...,
"documents": [...]}`` (removed before forwarding) or the headers ``X-ContextZip-Target-Tokens``,
``X-ContextZip-Rate`` and ``X-ContextZip-Compressor`` override the server defaults. Concurrent requests are
collected by the engine's request scheduler (:mod:`contextzip.scheduler`) for a few milliseconds and compressed in
one batched pass, whatever their budgets. Under load the proxy sheds: a full queue answers 429, a request that
cannot be compressed within ``compression_timeout`` 503 (both with ``Retry-After``), a context over
``max_request_tokens`` 413 before compression, and a client that disconnected is cancelled and never forwarded.

Secrets: the upstream API key is read from an environment variable (``CONTEXTZIP_UPSTREAM_API_KEY`` by default)
and is never logged or returned (it is redacted from upstream bodies); clients authenticate with
``Authorization: Bearer <token>`` when ``CONTEXTZIP_PROXY_TOKEN`` is set. Without either, a client's own
``Authorization`` header is passed upstream.

Modules: :mod:`~.config` (``ServerConfig``, ``ProxyError``, per-request options; no extra needed),
:mod:`~.metrics` (prometheus-client metrics, JSON snapshot), :mod:`~.batching` (schedulers and load shedding),
:mod:`~.app` (``create_app``, the routes, ``serve``). A fake upstream for tests is in :mod:`contextzip.testing`.
"""

from __future__ import annotations

from contextzip.integrations.server.app import create_app, require_server_extra, serve
from contextzip.integrations.server.batching import CompressionPool
from contextzip.integrations.server.config import (
    API_KEY_ENV,
    PROXY_TOKEN_ENV,
    ProxyError,
    ServerConfig,
    parse_options,
)

__all__ = [
    "API_KEY_ENV",
    "PROXY_TOKEN_ENV",
    "CompressionPool",
    "ProxyError",
    "ServerConfig",
    "create_app",
    "parse_options",
    "require_server_extra",
    "serve",
]
