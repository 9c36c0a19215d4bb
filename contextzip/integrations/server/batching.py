"""The proxy's compression: one :class:`~contextzip.scheduler.RequestScheduler` per compressor, and load shedding.

Requests for the same compressor share one batched pass whatever their budgets (the scheduler hands per-item
budgets to ``compress_batch``). Each request has a deadline (``compression_timeout``) that covers its time in the
queue and in compression: a full queue answers 429, a missed deadline 503, both with ``Retry-After``; a client that
disconnects while it waits has its request cancelled (it is skipped when its pass comes) and answered 499, so
nothing is forwarded for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from contextzip.api import resolve_compressor
from contextzip.integrations.messages import CompressedMessages, MessageContext, finish
from contextzip.integrations.server.config import ProxyError, ServerConfig
from contextzip.scheduler import DeadlineExceededError, QueueFullError, RequestScheduler

if TYPE_CHECKING:
    from contextzip.integrations.server.metrics import Metrics

#: The status answered for a client that went away (nginx's "client closed request"); nobody reads it.
CLIENT_GONE = 499


class CompressionPool:
    """The proxy's schedulers, one per (compressor, token counter), made on first use and closed together.

    Args:
        config: ``max_batch``, ``max_wait_ms``, ``max_queue``, ``compression_timeout`` and the token counter.
        metrics: receives each pass's size, waits and time, and reads the queue depth.
    """

    def __init__(self, config: ServerConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self._schedulers: dict[Any, RequestScheduler] = {}
        self._lock = threading.Lock()

    @property
    def queue_depth(self) -> int:
        """Requests waiting, over every scheduler."""
        return sum(s.queue_depth for s in list(self._schedulers.values()))

    def scheduler(self, compressor: Any) -> RequestScheduler:
        """The scheduler of ``compressor`` (a registry name or an instance)."""
        key = compressor if isinstance(compressor, str) else id(compressor)
        with self._lock:
            if key not in self._schedulers:
                config = self.config
                comp = resolve_compressor(compressor, config.token_counter)
                metrics = self.metrics
                on_batch = ((lambda n, waits, ms: metrics.record_batch(n, ms, waits)) if metrics is not None
                            else None)
                self._schedulers[key] = RequestScheduler(comp, max_wait_ms=config.max_wait_ms,
                                                         max_batch_size=config.max_batch, max_queue=config.max_queue,
                                                         on_batch=on_batch)
            return self._schedulers[key]

    async def compress(self, context: MessageContext, compressor: Any, target_tokens: int | None,
                       rate: float | None, disconnected: Callable[[], Awaitable[bool]] | None = None,
                       started: float | None = None) -> CompressedMessages:
        """``context`` compressed, within ``compression_timeout`` of ``started`` (``time.monotonic()``, default now).

        Raises :class:`ProxyError` 429 (queue full), 503 (deadline) or 499 (``disconnected()`` became true);
        a compressor's own error propagates.
        """
        timeout = self.config.compression_timeout
        deadline = (started if started is not None else time.monotonic()) + timeout
        sched = await asyncio.to_thread(self.scheduler, compressor)
        try:
            future = sched.submit(context.query, context.documents, target_tokens=target_tokens, rate=rate,
                                  deadline=deadline)
        except QueueFullError as exc:
            self._shed("queue_full")
            raise ProxyError(429, str(exc), type="rate_limit_error", code="queue_full",
                             retry_after=exc.retry_after) from None
        try:
            result = await self._wait(future, deadline, disconnected)
        except DeadlineExceededError:
            result = None
        if result is None:
            self._shed("deadline")
            raise ProxyError(503, f"compression did not finish within {timeout:g} s (queue and compression)",
                             type="server_error", code="compression_timeout",
                             retry_after=sched.retry_after()) from None
        return await asyncio.to_thread(finish, context, result, sched.compressor.token_counter)

    async def _wait(self, future: concurrent.futures.Future[Any], deadline: float,
                    disconnected: Callable[[], Awaitable[bool]] | None) -> Any:
        """The future's result; ``None`` past the deadline; 499 when the client left (the request is cancelled)."""
        waiting = asyncio.wrap_future(future)
        watcher = asyncio.ensure_future(_until_true(disconnected)) if disconnected is not None else None
        try:
            pending = {waiting} | ({watcher} if watcher is not None else set())
            done, _ = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                return waiting.result()
            waiting.cancel()  # cancels the request too, unless its pass has begun (its result is then dropped)
            if watcher is not None and watcher in done:
                self._shed("client_gone")
                raise ProxyError(CLIENT_GONE, "the client closed the request", code="client_closed_request")
            return None
        finally:
            if watcher is not None:
                watcher.cancel()

    def _shed(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.record_shed(reason)

    def stats(self) -> dict[str, Any]:
        """Each scheduler's :meth:`~contextzip.scheduler.SchedulerStats.snapshot`, by compressor name."""
        return {s.compressor.name: s.stats.snapshot() for s in list(self._schedulers.values())}

    def close(self) -> None:
        for sched in list(self._schedulers.values()):
            sched.close()


async def _until_true(check: Callable[[], Awaitable[bool]] | None, interval: float = 0.05) -> None:
    """Return once ``check()`` is true (polled every ``interval`` seconds)."""
    while check is not None and not await check():
        await asyncio.sleep(interval)
