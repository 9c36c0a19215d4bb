"""A compressing, OpenAI-compatible proxy: ``contextzip serve --upstream URL``.

Clients point their OpenAI SDK at the proxy (``base_url="http://127.0.0.1:8000/v1"``); each
``/v1/chat/completions`` request has its context compressed (see :mod:`contextzip.integrations.messages`:
``<context>`` blocks, marked content parts, or ``contextzip.documents``) and goes on to ``{upstream}/chat/completions``;
the answer, streamed (SSE) or not, comes back unchanged. ``/v1/models`` is passed through; ``/healthz`` and
``/metrics`` (JSON, or Prometheus text with ``?format=prometheus``) are the proxy's own.

Per request, an extension field ``"contextzip": {"target_tokens": 800, "compressor": "truncate", "query": ...,
"documents": [...]}`` (removed before forwarding) or the headers ``X-ContextZip-Target-Tokens``,
``X-ContextZip-Rate`` and ``X-ContextZip-Compressor`` override the server defaults. Compression runs on one worker
thread that compresses queued requests with the same settings in one batched pass.

Secrets: the upstream API key is read from an environment variable (``CONTEXTZIP_UPSTREAM_API_KEY`` by default)
and is never logged or returned (it is redacted from upstream bodies); clients authenticate with
``Authorization: Bearer <token>`` when ``CONTEXTZIP_PROXY_TOKEN`` is set. Without either, a client's own
``Authorization`` header is passed upstream.

``create_echo_upstream()`` is a stand-in OpenAI-compatible upstream for tests, examples and the load benchmark.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hmac
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from contextzip.api import resolve_compressor
from contextzip.budget import resolve_budget
from contextzip.errors import ContextZipError, ModelNotAvailableError, missing_dependency
from contextzip.integrations.messages import (
    CompressedMessages,
    MessageContext,
    find_context,
    finish,
)

try:
    import httpx
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.background import BackgroundTask
except ImportError as exc:  # create_app() then fails with the pip line
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

logger = logging.getLogger(__name__)

API_KEY_ENV = "CONTEXTZIP_UPSTREAM_API_KEY"
PROXY_TOKEN_ENV = "CONTEXTZIP_PROXY_TOKEN"
_HEADER_OPTIONS = {"x-contextzip-target-tokens": "target_tokens", "x-contextzip-rate": "rate",
                   "x-contextzip-compressor": "compressor"}
_BODY_OPTIONS = ("target_tokens", "rate", "compressor", "query", "documents")


def _require() -> None:
    if _IMPORT_ERROR is not None:
        raise missing_dependency("fastapi, uvicorn and httpx", "server") from _IMPORT_ERROR


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
        upstream_timeout: seconds to wait for upstream (connect: ``connect_timeout``).
        max_batch: requests compressed together in one pass at most.
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
    upstream_timeout: float = 120.0
    connect_timeout: float = 10.0
    max_batch: int = 16
    warm_up: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.upstream, str) or not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, but got {self.upstream!r}")
        self.upstream = self.upstream.rstrip("/")
        if self.target_tokens is not None or self.rate is not None:
            resolve_budget(1, self.target_tokens, self.rate)
        for name in ("max_request_bytes", "max_batch"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, but got {getattr(self, name)}")
        for name in ("upstream_timeout", "connect_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, but got {getattr(self, name)}")
        from contextzip.registry import compressor_names

        if isinstance(self.compressor, str) and self.compressor not in compressor_names():
            raise ValueError(f"compressor must be one of {compressor_names()}, but got {self.compressor!r}")
        if self.upstream_api_key is None:
            self.upstream_api_key = os.environ.get(API_KEY_ENV) or None
        if self.auth_token is None:
            self.auth_token = os.environ.get(PROXY_TOKEN_ENV) or None


class ProxyError(Exception):
    """An error answered as ``{"error": {"message", "type", "code"}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type, code

    def response(self) -> Any:
        body = {"error": {"message": self.message, "type": self.type, "code": self.code}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Metrics:
    """Thread-safe counters and recent latencies (the last ``window`` requests) for ``/metrics``."""

    def __init__(self, window: int = 4096) -> None:
        self._lock = threading.Lock()
        self.counters: collections.Counter[str] = collections.Counter()
        self.overhead_ms: collections.deque[float] = collections.deque(maxlen=window)
        self.total_ms: collections.deque[float] = collections.deque(maxlen=window)
        self.compress_ms: collections.deque[float] = collections.deque(maxlen=window)  # per request, in a batch
        self.batch_sizes: collections.deque[int] = collections.deque(maxlen=window)
        self.started = time.time()

    def record_batch(self, size: int, elapsed_ms: float) -> None:
        with self._lock:
            self.batch_sizes.append(size)
            self.compress_ms.append(elapsed_ms / size)

    def record(self, status: int, total_ms: float, overhead_ms: float | None = None,
               compressed: CompressedMessages | None = None) -> None:
        with self._lock:
            self.counters["requests_total"] += 1
            self.counters[f"responses_{status // 100}xx"] += 1
            self.total_ms.append(total_ms)
            if overhead_ms is not None:
                self.overhead_ms.append(overhead_ms)
            if compressed is not None:
                self.counters["tokens_in"] += compressed.prompt_tokens_before
                self.counters["tokens_out"] += compressed.prompt_tokens_after
                self.counters["tokens_saved"] += compressed.tokens_saved
                if compressed.result is not None:
                    self.counters["requests_compressed"] += 1
                    self.counters["context_tokens_in"] += compressed.original_tokens
                    self.counters["context_tokens_out"] += compressed.compressed_tokens

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            over, total = list(self.overhead_ms), list(self.total_ms)
            compress, sizes = list(self.compress_ms), list(self.batch_sizes)
            counters = dict(self.counters)
        keys = ("requests_total", "requests_compressed", "responses_2xx", "responses_4xx", "responses_5xx",
                "tokens_in", "tokens_out", "tokens_saved", "context_tokens_in", "context_tokens_out")
        return {
            **{k: counters.get(k, 0) for k in keys},
            "uptime_s": round(time.time() - self.started, 3),
            "latency_ms": {
                "window": len(total),
                "proxy_overhead_p50": _percentile(over, 0.5), "proxy_overhead_p95": _percentile(over, 0.95),
                "total_p50": _percentile(total, 0.5), "total_p95": _percentile(total, 0.95),
                "compression_per_request_p50": _percentile(compress, 0.5),
                "compression_per_request_p95": _percentile(compress, 0.95),
            },
            "compression_batches": len(sizes),
            "mean_batch_size": sum(sizes) / len(sizes) if sizes else None,
        }

    def prometheus(self) -> str:
        snap = self.snapshot()
        lines = []
        for key, value in snap.items():
            if isinstance(value, (int, float)):
                lines += [f"# TYPE contextzip_{key} {'gauge' if key == 'uptime_s' else 'counter'}",
                          f"contextzip_{key} {value}"]
        lat = snap["latency_ms"]
        for name in ("proxy_overhead", "total"):
            lines.append(f"# TYPE contextzip_{name}_ms summary")
            for q in ("50", "95"):
                value = lat[f"{name}_p{q}"]
                if value is not None:
                    lines.append(f'contextzip_{name}_ms{{quantile="0.{q}"}} {value:.3f}')
        return "\n".join(lines) + "\n"


@dataclass
class _Job:
    context: MessageContext
    compressor: Any
    token_counter: str | None
    target_tokens: int | None
    rate: float | None
    future: concurrent.futures.Future[CompressedMessages] = field(default_factory=concurrent.futures.Future)

    @property
    def key(self) -> tuple[Any, ...]:
        name = self.compressor if isinstance(self.compressor, str) else id(self.compressor)
        return (name, self.token_counter, self.target_tokens, self.rate)


class CompressionWorker:
    """One thread that compresses queued requests; requests with the same settings share one batched pass."""

    def __init__(self, max_batch: int = 16, metrics: Metrics | None = None) -> None:
        self.max_batch = max_batch
        self.metrics = metrics
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="contextzip-compression", daemon=True)
        self._thread.start()

    async def submit(self, job: _Job) -> CompressedMessages:
        self._queue.put(job)
        return await asyncio.wrap_future(job.future)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                jobs.append(nxt)
            groups: dict[tuple[Any, ...], list[_Job]] = collections.defaultdict(list)
            for job in jobs:
                groups[job.key].append(job)
            for group in groups.values():
                start = time.perf_counter()
                self._run(group)
                if self.metrics is not None:
                    self.metrics.record_batch(len(group), (time.perf_counter() - start) * 1000)

    @staticmethod
    def _run(group: list[_Job]) -> None:
        head = group[0]
        try:
            comp = resolve_compressor(head.compressor, head.token_counter)
            pairs = [(j.context.query, j.context.documents) for j in group]
            results = comp.compress_batch(pairs, target_tokens=head.target_tokens, rate=head.rate)
            for job, result in zip(group, results, strict=True):
                job.future.set_result(finish(job.context, result, comp.token_counter))
        except Exception as exc:  # one bad request must not fail the others: retry them one by one
            if len(group) == 1:
                head.future.set_exception(exc)
                return
            for job in group:
                CompressionWorker._run([job])


def _parse_options(body: dict[str, Any], headers: Mapping[str, str], config: ServerConfig,
                   known: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for header, key in _HEADER_OPTIONS.items():
        if header in headers:
            raw = headers[header].strip()
            try:
                options[key] = int(raw) if key == "target_tokens" else float(raw) if key == "rate" else raw
            except ValueError:
                raise ProxyError(400, f"header {header} must be a number, but got {raw!r}") from None
    ext = body.pop("contextzip", None)
    if ext is not None:
        if not isinstance(ext, dict):
            raise ProxyError(400, f"'contextzip' must be an object, but got {type(ext).__name__}")
        unknown = sorted(set(ext) - set(_BODY_OPTIONS))
        if unknown:
            raise ProxyError(400, f"'contextzip' options must be among {list(_BODY_OPTIONS)}, but got {unknown}")
        options.update(ext)
    if "target_tokens" in options and "rate" in options:
        raise ProxyError(400, "give one of target_tokens or rate, not both")
    if "target_tokens" not in options and "rate" not in options:
        options["target_tokens"], options["rate"] = config.target_tokens, config.rate
    else:
        options.setdefault("target_tokens", None)
        options.setdefault("rate", None)
    default = config.compressor
    default_name = default if isinstance(default, str) else default.name
    options.setdefault("compressor", default_name)
    if options["target_tokens"] is not None or options["rate"] is not None:
        try:
            resolve_budget(1, options["target_tokens"], options["rate"])
        except (TypeError, ValueError) as exc:
            raise ProxyError(400, str(exc)) from None
    if options["compressor"] not in known:
        raise ProxyError(400, f"compressor must be one of {known}, but got {options['compressor']!r}")
    if options["compressor"] == default_name:
        options["compressor"] = default
    return options


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProxyError(413, f"request body is {declared} bytes; the limit is {limit}", code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProxyError(413, f"request body exceeds the limit of {limit} bytes", code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: ServerConfig) -> Any:
    """The FastAPI application of the proxy."""
    _require()
    from contextzip.registry import compressor_names

    key_bytes = config.upstream_api_key.encode() if config.upstream_api_key else None
    known_compressors = compressor_names()  # entry points are scanned once, not per request

    def redact(data: bytes) -> bytes:
        return data.replace(key_bytes, b"[REDACTED]") if key_bytes else data

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        timeout = httpx.Timeout(config.upstream_timeout, connect=config.connect_timeout)
        app.state.client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200))
        app.state.worker = CompressionWorker(config.max_batch, metrics)
        if config.warm_up and (config.target_tokens is not None or config.rate is not None):
            comp = await asyncio.to_thread(resolve_compressor, config.compressor, config.token_counter)
            if hasattr(comp, "warm_up"):
                await asyncio.to_thread(comp.warm_up)
        budget = config.target_tokens if config.target_tokens is not None else config.rate
        logger.info("contextzip proxy ready: upstream %s, compressor %s, budget %s", config.upstream,
                    getattr(config.compressor, "name", config.compressor), budget)
        try:
            yield
        finally:
            await app.state.client.aclose()
            app.state.worker.close()

    app = FastAPI(title="contextzip proxy", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.config = config
    app.state.metrics = metrics = Metrics()

    @app.exception_handler(ProxyError)
    async def _proxy_error(request: Request, exc: ProxyError) -> Any:
        return exc.response()

    def check_auth(request: Request) -> None:
        if config.auth_token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.auth_token.encode()):
            raise ProxyError(401, "missing or wrong bearer token for the contextzip proxy",
                             type="authentication_error", code="invalid_api_key")

    def upstream_headers(request: Request) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": request.headers.get("accept", "application/json")}
        if config.upstream_api_key:
            headers["authorization"] = f"Bearer {config.upstream_api_key}"
        elif config.auth_token is None and "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        return headers

    def upstream_failure(exc: Exception) -> ProxyError:
        if isinstance(exc, httpx.TimeoutException):
            return ProxyError(504, f"upstream did not answer within {config.upstream_timeout:g} s",
                              type="upstream_error", code="upstream_timeout")
        return ProxyError(502, f"upstream unreachable ({type(exc).__name__})", type="upstream_error",
                          code="upstream_unreachable")

    def upstream_error_response(status: int, content: bytes, headers: dict[str, str]) -> Any:
        content = redact(content)
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed:
            return JSONResponse(parsed, status_code=status, headers=headers)
        text = content.decode("utf-8", errors="replace")[:500]
        return JSONResponse({"error": {"message": f"upstream returned HTTP {status}: {text}",
                                       "type": "upstream_error", "code": None}}, status_code=status, headers=headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics_endpoint(format: str = "json") -> Any:
        if format == "prometheus":
            return PlainTextResponse(metrics.prometheus(), media_type="text/plain; version=0.0.4")
        return metrics.snapshot()

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        check_auth(request)
        try:
            upstream = await request.app.state.client.get(f"{config.upstream}/models", headers=upstream_headers(request))
        except httpx.HTTPError as exc:
            raise upstream_failure(exc) from None
        if upstream.status_code >= 400:
            return upstream_error_response(upstream.status_code, upstream.content, {})
        return Response(redact(upstream.content), status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type", "application/json"))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        start = time.perf_counter()
        status, compressed = 500, None
        pre_ms: float | None = None      # parsing + compression, before the upstream call
        upstream_ms: float | None = None  # the upstream call (non-streaming requests)
        try:
            check_auth(request)
            raw = await _read_body(request, config.max_request_bytes)
            try:
                body = json.loads(raw)
            except ValueError:
                raise ProxyError(400, "request body is not valid JSON") from None
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ProxyError(400, "request body must be a JSON object with a 'messages' list")
            options = _parse_options(body, request.headers, config, known_compressors)
            if options["target_tokens"] is not None or options["rate"] is not None:
                try:
                    context = find_context(body["messages"], format="openai", documents=options.get("documents"),
                                           query=options.get("query"))
                except (TypeError, ValueError) as exc:
                    raise ProxyError(400, str(exc)) from None
                if not context.found:
                    from contextzip.tokens import get_token_counter

                    compressed = finish(context, None, get_token_counter(config.token_counter))
                else:
                    job = _Job(context, options["compressor"], config.token_counter, options["target_tokens"],
                               options["rate"])
                    try:
                        compressed = await request.app.state.worker.submit(job)
                    except ModelNotAvailableError as exc:
                        raise ProxyError(503, str(exc), type="server_error", code="compressor_unavailable") from None
                    except (TypeError, ValueError) as exc:
                        raise ProxyError(400, str(exc)) from None
                    except ContextZipError as exc:
                        logger.exception("compression failed")
                        raise ProxyError(500, f"compression failed: {exc}", type="server_error") from None
                    body["messages"] = compressed.messages
            extra = {"x-contextzip-overhead-ms": f"{(time.perf_counter() - start) * 1000:.2f}"}
            if compressed is not None and compressed.result is None:
                extra["x-contextzip-status"] = "no context found"
            elif compressed is not None and compressed.result is not None:
                extra.update({"x-contextzip-original-tokens": str(compressed.original_tokens),
                              "x-contextzip-compressed-tokens": str(compressed.compressed_tokens),
                              "x-contextzip-target-tokens": str(compressed.result.target_tokens)})
            pre_ms = (time.perf_counter() - start) * 1000
            client: httpx.AsyncClient = request.app.state.client
            req = client.build_request("POST", f"{config.upstream}/chat/completions",
                                       content=json.dumps(body).encode(), headers=upstream_headers(request))
            upstream_start = time.perf_counter()
            try:
                upstream = await client.send(req, stream=bool(body.get("stream")))
            except httpx.HTTPError as exc:
                raise upstream_failure(exc) from None
            status = upstream.status_code
            if body.get("stream") and status < 400:
                async def relay() -> AsyncIterator[bytes]:
                    try:
                        async for chunk in upstream.aiter_bytes():
                            yield redact(chunk)
                    except httpx.HTTPError as exc:  # the status line is already sent: log and end the stream
                        logger.warning("upstream stream broke: %s", type(exc).__name__)

                return StreamingResponse(relay(), status_code=status, headers=extra,
                                         media_type=upstream.headers.get("content-type", "text/event-stream"),
                                         background=BackgroundTask(upstream.aclose))
            try:
                content = await upstream.aread()
            except httpx.HTTPError as exc:
                raise upstream_failure(exc) from None
            finally:
                await upstream.aclose()
            upstream_ms = (time.perf_counter() - upstream_start) * 1000
            if status >= 400:
                return upstream_error_response(status, content, extra)
            return Response(redact(content), status_code=status, headers=extra,
                            media_type=upstream.headers.get("content-type", "application/json"))
        except ProxyError as exc:
            status = exc.status
            return exc.response()
        finally:
            total = (time.perf_counter() - start) * 1000
            overhead = total - upstream_ms if upstream_ms is not None else pre_ms
            metrics.record(status, total, overhead, compressed)
            logger.info("POST /v1/chat/completions %d in %.1f ms (proxy %.1f ms)", status, total,
                        overhead if overhead is not None else -1.0)

    return app


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the proxy with uvicorn until interrupted."""
    _require()
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)


# --- running servers in a background thread (tests, examples, benchmarks) -----------------------------------


@contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                  timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a background thread; yields its base URL (``http://host:port``).

    ``port=0`` picks a free port. The server stops when the block ends.
    """
    _require()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"server on {host}:{bound_port} did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()


def create_echo_upstream(delay_s: float = 0.0, max_recorded: int = 10_000) -> Any:
    """A stand-in OpenAI-compatible upstream that records what it receives (``app.state.received``).

    It answers ``/v1/chat/completions`` (also streamed) with a short summary of the request, ``/v1/models``, and
    Anthropic's ``/v1/messages`` (not streamed).
    Special models: ``"error-401"`` answers 401 echoing the Authorization header it got (to test redaction),
    ``"error-500"`` a plain-text 500, ``"slow"`` sleeps ``delay_s`` (or 5 s) first. For tests and examples only.
    """
    _require()
    app = FastAPI(title="echo upstream", docs_url=None, redoc_url=None)
    app.state.received = collections.deque(maxlen=max_recorded)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "echo-1", "object": "model", "created": 0, "owned_by": "contextzip"}]}

    @app.post("/v1/messages")
    async def anthropic_messages(request: Request) -> Any:
        body = await request.json()
        app.state.received.append({"headers": dict(request.headers), "body": body})
        return {"id": "msg_echo", "type": "message", "role": "assistant", "model": body.get("model", "echo-1"),
                "content": [{"type": "text", "text": f"echo: {len(body['messages'])} messages"}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 3}}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        app.state.received.append({"headers": dict(request.headers), "body": body})
        model = body.get("model", "echo-1")
        if model == "error-401":
            auth = request.headers.get("authorization", "")
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {auth}", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}}, status_code=401)
        if model == "error-500":
            return PlainTextResponse("internal upstream failure", status_code=500)
        if model == "slow" or delay_s:
            await asyncio.sleep(delay_s or 5.0)
        chars = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else 0 for m in body["messages"])
        answer = f"echo: {len(body['messages'])} messages, {chars} characters"
        created = int(time.time())
        if body.get("stream"):
            async def events() -> AsyncIterator[bytes]:
                for i, piece in enumerate(answer.split(" ")):
                    delta = {"content": piece if i == 0 else " " + piece}
                    chunk = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": created,
                             "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                end = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode()

            return StreamingResponse(events(), media_type="text/event-stream")
        return {"id": "chatcmpl-echo", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": chars // 4, "completion_tokens": 8, "total_tokens": chars // 4 + 8}}

    return app
