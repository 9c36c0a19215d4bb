"""The proxy's FastAPI application (:func:`create_app`), its parts and routes, and :func:`serve`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from contextzip.api import resolve_compressor
from contextzip.errors import ContextZipError, ModelNotAvailableError, missing_dependency
from contextzip.integrations.messages import CompressedMessages, find_context, finish
from contextzip.integrations.server.batching import CLIENT_GONE, CompressionPool
from contextzip.integrations.server.config import ProxyError, ServerConfig, parse_options
from contextzip.integrations.server.redaction import Redactor

try:
    import httpx
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from starlette.background import BackgroundTask

    from contextzip.integrations.server.metrics import Metrics
except ImportError as exc:  # create_app() then fails with the pip line
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

logger = logging.getLogger(__name__)


def require_server_extra() -> None:
    """Raise :class:`~contextzip.MissingDependencyError`, with the pip line, unless the ``server`` extra is here."""
    if _IMPORT_ERROR is not None:
        raise missing_dependency("fastapi, uvicorn, httpx and prometheus-client", "server") from _IMPORT_ERROR


def error_response(exc: ProxyError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())


@dataclass
class RequestTiming:
    """Where one request's time went: for the overhead header, the metrics and the log line."""

    start: float = field(default_factory=time.perf_counter)
    before_upstream_ms: float | None = None  # parsing + compression, before the upstream call
    upstream_ms: float | None = None  # the upstream call (non-streaming requests)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    def overhead_ms(self, total_ms: float) -> float | None:
        """Time in the proxy, not upstream: all but the upstream call, or what came before a streamed one."""
        return total_ms - self.upstream_ms if self.upstream_ms is not None else self.before_upstream_ms


def contextzip_headers(compressed: CompressedMessages | None, overhead_ms: float) -> dict[str, str]:
    """The ``X-ContextZip-*`` response headers: the time spent in the proxy, and what compression did."""
    headers = {"x-contextzip-overhead-ms": f"{overhead_ms:.2f}"}
    if compressed is not None and compressed.result is None:
        headers["x-contextzip-status"] = "no context found"
    elif compressed is not None and compressed.result is not None:
        headers.update({"x-contextzip-original-tokens": str(compressed.original_tokens),
                        "x-contextzip-compressed-tokens": str(compressed.compressed_tokens),
                        "x-contextzip-target-tokens": str(compressed.result.target_tokens)})
    return headers


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (declared or streamed)."""
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


def parse_chat_body(raw: bytes) -> dict[str, Any]:
    """A chat completions body: a JSON object with a ``messages`` list, or a 400."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ProxyError(400, "request body is nested too deeply") from None
    except ValueError:
        raise ProxyError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ProxyError(400, "request body must be a JSON object with a 'messages' list")
    return body


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; the JSON standard (and upstream APIs) do not.
    raise ProxyError(400, f"request body is not valid JSON: {name} is not a JSON value")


class Upstream:
    """The upstream API: its URL, one HTTP client (opened by the app's lifespan), auth headers, key redaction."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.redactor = Redactor(config.upstream_api_key)
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
        timeout = httpx.Timeout(self.config.upstream_timeout, connect=self.config.connect_timeout)
        self._client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=200))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the upstream client is opened by the app's lifespan")
        return self._client

    def redact(self, data: bytes) -> bytes:
        """``data`` with the upstream API key, in any JSON escaping, replaced by ``[REDACTED]``."""
        return self.redactor.plain(data)

    def headers(self, request: Request) -> dict[str, str]:
        """Headers for upstream: the configured key, else (without proxy auth) the client's own."""
        headers = {"content-type": "application/json", "accept": request.headers.get("accept", "application/json")}
        if self.config.upstream_api_key:
            headers["authorization"] = f"Bearer {self.config.upstream_api_key}"
        elif self.config.auth_token is None and "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        return headers

    def failure(self, exc: Exception) -> ProxyError:
        """A 504 for a timeout, a 502 for anything else that kept upstream from answering."""
        if isinstance(exc, httpx.TimeoutException):
            return ProxyError(504, f"upstream did not answer within {self.config.upstream_timeout:g} s",
                              type="upstream_error", code="upstream_timeout")
        return ProxyError(502, f"upstream unreachable ({type(exc).__name__})", type="upstream_error",
                          code="upstream_unreachable")

    def answer(self, upstream: httpx.Response, content: bytes, headers: Mapping[str, str]) -> Response:
        """An upstream answer passed on, key redacted; an error in OpenAI's shape when it is not one already."""
        content, status = self.redact(content), upstream.status_code
        if status < 400:
            return Response(content, status_code=status, headers=headers,
                            media_type=upstream.headers.get("content-type", "application/json"))
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed:
            return JSONResponse(self.redactor.value(parsed), status_code=status, headers=headers)
        text = content.decode("utf-8", errors="replace")[:500]
        return JSONResponse({"error": {"message": f"upstream returned HTTP {status}: {text}",
                                       "type": "upstream_error", "code": None}}, status_code=status, headers=headers)

    async def get(self, path: str, request: Request) -> Response:
        try:
            upstream = await self.client.get(f"{self.config.upstream}{path}", headers=self.headers(request))
        except httpx.HTTPError as exc:
            raise self.failure(exc) from None
        return self.answer(upstream, upstream.content, {})

    async def chat(self, body: dict[str, Any], request: Request, headers: Mapping[str, str],
                   timing: RequestTiming) -> Response:
        """``body`` sent to ``/chat/completions``: a stream is relayed as it comes, any other answer read first."""
        stream = bool(body.get("stream"))
        req = self.client.build_request("POST", f"{self.config.upstream}/chat/completions",
                                        content=json.dumps(body).encode(), headers=self.headers(request))
        start = time.perf_counter()
        try:
            upstream = await self.client.send(req, stream=stream)
        except httpx.HTTPError as exc:
            raise self.failure(exc) from None
        if stream and upstream.status_code < 400:
            return StreamingResponse(self._relay(upstream), status_code=upstream.status_code, headers=headers,
                                     media_type=upstream.headers.get("content-type", "text/event-stream"),
                                     background=BackgroundTask(upstream.aclose))
        try:
            content = await upstream.aread()
        except httpx.HTTPError as exc:
            raise self.failure(exc) from None
        finally:
            await upstream.aclose()
        timing.upstream_ms = (time.perf_counter() - start) * 1000
        return self.answer(upstream, content, headers)

    async def _relay(self, upstream: httpx.Response) -> AsyncIterator[bytes]:
        """The upstream stream, redacted over whole events; if it breaks, an error event ends it (never a clean
        end: the status line is already sent)."""
        redacting = self.redactor.stream()
        try:
            async for chunk in upstream.aiter_bytes():
                out = redacting.feed(chunk)
                if out:
                    yield out
        except httpx.HTTPError as exc:
            logger.warning("upstream stream broke: %s", type(exc).__name__)
            yield redacting.flush()
            error = {"error": {"message": f"upstream stream broke ({type(exc).__name__})", "type": "upstream_error",
                               "code": "upstream_stream_broken"}}
            yield f"\n\ndata: {json.dumps(error)}\n\n".encode()
            return
        tail = redacting.flush()
        if tail:
            yield tail


class Proxy:
    """One app's parts: settings, metrics, the upstream and the compression worker (started by the lifespan)."""

    def __init__(self, config: ServerConfig, metrics: Metrics) -> None:
        from contextzip.registry import compressor_names

        self.config = config
        self.metrics = metrics
        self.upstream = Upstream(config)
        self.known_compressors = compressor_names()  # entry points are scanned once, not per request
        self._pool: CompressionPool | None = None

    async def start(self) -> None:
        """Open the upstream client, start the worker, warm the default compressor up (when configured)."""
        config = self.config
        self.upstream.open()
        pool = self._pool = CompressionPool(config, self.metrics)
        self.metrics.watch_queue(lambda: pool.queue_depth)
        if config.warm_up and config.has_budget:
            comp = await asyncio.to_thread(resolve_compressor, config.compressor, config.token_counter)
            if hasattr(comp, "warm_up"):
                await asyncio.to_thread(comp.warm_up)
        budget = config.target_tokens if config.target_tokens is not None else config.rate
        logger.info("contextzip proxy ready: upstream %s, compressor %s, budget %s", config.upstream,
                    config.compressor_name, budget)

    async def stop(self) -> None:
        await self.upstream.close()
        if self._pool is not None:
            self._pool.close()

    def authorize(self, request: Request) -> None:
        """Check the client's bearer token when the proxy has one (401 otherwise)."""
        if self.config.auth_token is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 self.config.auth_token.encode()):
            raise ProxyError(401, "missing or wrong bearer token for the contextzip proxy",
                             type="authentication_error", code="invalid_api_key")

    async def compress(self, body: dict[str, Any], headers: Mapping[str, str],
                       disconnected: Any = None) -> CompressedMessages | None:
        """Compress ``body["messages"]`` in place per the request's options; ``None`` when it has no budget.

        ``disconnected``: an async ``() -> bool``; when it turns true the request is cancelled (499)."""
        started = time.monotonic()
        options = parse_options(body, headers, self.config, self.known_compressors)
        if options["target_tokens"] is None and options["rate"] is None:
            return None
        context = await asyncio.to_thread(self._find_context, body, options)
        if not context.found:
            from contextzip.tokens import get_token_counter

            return finish(context, None, get_token_counter(self.config.token_counter))
        compressed = await self._submit(context, options, disconnected, started)
        body["messages"] = compressed.messages
        return compressed

    def _find_context(self, body: dict[str, Any], options: dict[str, Any]) -> Any:
        """The request's context (off the event loop), refused with 413 past ``max_request_tokens``."""
        from contextzip.tokens import get_token_counter

        try:
            context = find_context(body["messages"], format="openai", documents=options.get("documents"),
                                   query=options.get("query"))
        except (TypeError, ValueError) as exc:
            raise ProxyError(400, str(exc)) from None
        limit = self.config.max_request_tokens
        tokens = sum(get_token_counter(self.config.token_counter).count_many([d.text for d in context.documents]))
        if tokens > limit:
            raise ProxyError(413, f"the context holds {tokens} tokens; the limit is {limit}",
                             code="request_too_large")
        return context

    async def _submit(self, context: Any, options: dict[str, Any], disconnected: Any,
                      started: float) -> CompressedMessages:
        if self._pool is None:
            raise RuntimeError("the compression pool is started by the app's lifespan")
        try:
            return await self._pool.compress(context, options["compressor"], options["target_tokens"],
                                             options["rate"], disconnected, started)
        except ModelNotAvailableError as exc:
            raise ProxyError(503, str(exc), type="server_error", code="compressor_unavailable") from None
        except (TypeError, ValueError) as exc:
            raise ProxyError(400, str(exc)) from None
        except ContextZipError as exc:
            logger.exception("compression failed")
            raise ProxyError(500, f"compression failed: {exc}", type="server_error") from None

    async def chat(self, request: Request) -> Response:
        """``POST /v1/chat/completions``: check, compress, forward, and record how it went."""
        timing = RequestTiming()
        status, compressed = 500, None
        try:
            self.authorize(request)
            body = parse_chat_body(await read_body(request, self.config.max_request_bytes))
            compressed = await self.compress(body, request.headers, request.is_disconnected)
            if await request.is_disconnected():  # never bill an upstream call nobody will read
                raise ProxyError(CLIENT_GONE, "the client closed the request", code="client_closed_request")
            headers = contextzip_headers(compressed, timing.elapsed_ms())
            timing.before_upstream_ms = timing.elapsed_ms()
            response = await self.upstream.chat(body, request, headers, timing)
            status = response.status_code
            return response
        except ProxyError as exc:
            status = exc.status
            return error_response(exc)
        finally:
            self._record(timing, status, compressed)

    def _record(self, timing: RequestTiming, status: int, compressed: CompressedMessages | None) -> None:
        total = timing.elapsed_ms()
        overhead = timing.overhead_ms(total)
        self.metrics.record(status, total, overhead, compressed)
        logger.info("POST /v1/chat/completions %d in %.1f ms (proxy %.1f ms)", status, total,
                    overhead if overhead is not None else -1.0)


def create_app(config: ServerConfig) -> FastAPI:
    """The FastAPI application of the proxy (see :mod:`contextzip.integrations.server`)."""
    require_server_extra()
    metrics = Metrics()
    proxy = Proxy(config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await proxy.start()
        try:
            yield
        finally:
            await proxy.stop()

    app = FastAPI(title="contextzip proxy", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.config, app.state.metrics, app.state.proxy = config, metrics, proxy

    @app.exception_handler(ProxyError)
    async def _proxy_error(request: Request, exc: ProxyError) -> JSONResponse:
        return error_response(exc)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics_endpoint(request: Request, format: str = "json") -> Any:
        proxy.authorize(request)  # behind the same token as the API when one is set
        if format == "prometheus":
            return Response(metrics.prometheus(), media_type=metrics.content_type)
        return metrics.snapshot()

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        proxy.authorize(request)
        return await proxy.upstream.get("/models", request)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await proxy.chat(request)

    return app


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the proxy with uvicorn until interrupted."""
    require_server_extra()
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level)
