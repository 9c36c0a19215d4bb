"""A request scheduler: concurrent compression requests collected into one batched pass, resolved as futures.

Requests arrive from any thread (:meth:`RequestScheduler.submit`, a :class:`concurrent.futures.Future`) or from
asyncio (:meth:`RequestScheduler.asubmit`). One worker thread collects them for at most ``max_wait_ms`` after the
first one of a batch arrived, or until ``max_batch_size`` requests or about ``max_batch_tokens`` input tokens are
waiting, then scores them all in ONE ``compressor.compress_batch(items, target_tokens=[...], rate=[...])`` call:
requests with different budgets share the pass (the engine sorts the texts by length inside it). The queue is
bounded: past ``max_queue`` waiting requests :meth:`submit` raises :class:`QueueFullError` at once (backpressure).
A batch that fails is retried item by item, so a failure reaches only the request that caused it. A future
cancelled before its batch starts is skipped, and a request past its ``deadline`` gets
:class:`DeadlineExceededError` instead of being compressed. :class:`SchedulerStats` counts batch sizes, queue
depth and waiting time.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contextzip.budget import per_item
from contextzip.compressors.base import BaseCompressor, BudgetArg, CompressedOutput, DocumentsInput, RateArg
from contextzip.errors import ContextZipError
from contextzip.stats import percentile
from contextzip.types import CompressionRequest, CompressionResult
from contextzip.validation import check_positive_int

logger = logging.getLogger(__name__)

__all__ = ["DeadlineExceededError", "QueueFullError", "RequestScheduler", "ScheduledCompressor", "SchedulerStats"]


class QueueFullError(ContextZipError):
    """The scheduler's queue holds ``max_queue`` requests: try again later (``retry_after`` seconds)."""

    def __init__(self, depth: int, retry_after: float) -> None:
        super().__init__(f"the compression queue is full ({depth} requests waiting); retry in {retry_after:.1f} s")
        self.depth, self.retry_after = depth, retry_after


class DeadlineExceededError(ContextZipError):
    """A request's deadline passed while it waited in the queue; it was not compressed."""


@dataclass
class _Request:
    item: tuple[str | None, DocumentsInput]
    target_tokens: int | None
    rate: float | None
    tokens: int  # an estimate (characters / 4), for the batch's token limit
    deadline: float | None  # time.monotonic() seconds
    future: concurrent.futures.Future[CompressionResult] = field(default_factory=concurrent.futures.Future)
    enqueued: float = field(default_factory=time.monotonic)


class SchedulerStats:
    """What the scheduler did: requests by outcome, batches, batch sizes and waiting times (recent window)."""

    def __init__(self, window: int = 4096) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.batch_sizes: collections.deque[int] = collections.deque(maxlen=window)
        self.wait_ms: collections.deque[float] = collections.deque(maxlen=window)
        self.batch_ms: collections.deque[float] = collections.deque(maxlen=window)
        self.queue_depth = 0

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def record_batch(self, size: int, waits_ms: list[float], elapsed_ms: float) -> None:
        with self._lock:
            self.counts["batches"] += 1
            self.batch_sizes.append(size)
            self.wait_ms.extend(waits_ms)
            self.batch_ms.append(elapsed_ms)

    def snapshot(self) -> dict[str, Any]:
        """Counters, the current queue depth, mean batch size and wait-time percentiles (ms)."""
        with self._lock:
            sizes, waits = list(self.batch_sizes), list(self.wait_ms)
            counts = dict(self.counts)
        return {
            **{k: counts.get(k, 0) for k in ("submitted", "completed", "failed", "cancelled", "expired",
                                              "rejected", "batches")},
            "queue_depth": self.queue_depth,
            "mean_batch_size": sum(sizes) / len(sizes) if sizes else None,
            "max_batch_size": max(sizes) if sizes else None,
            "wait_ms_p50": percentile(waits, 0.5), "wait_ms_p95": percentile(waits, 0.95),
        }


BatchCallback = Callable[[int, list[float], float], None]


class RequestScheduler:
    """Collect concurrent requests for one compressor into batched passes (see the module docstring).

    Args:
        compressor: any :class:`~contextzip.compressors.base.BaseCompressor`.
        max_wait_ms: how long the first request of a batch waits for company.
        max_batch_size: requests per pass at most.
        max_batch_tokens: a pass starts early once this many input tokens (estimated as characters / 4) wait.
        max_queue: requests waiting at most; :meth:`submit` raises :class:`QueueFullError` beyond.
        on_batch: called after each pass with (size, each request's wait in ms, the pass's time in ms).

    Use it as a context manager, or call :meth:`close` (waiting requests are still compressed).
    """

    def __init__(self, compressor: BaseCompressor, *, max_wait_ms: float = 5.0, max_batch_size: int = 32,
                 max_batch_tokens: int = 65536, max_queue: int = 256, on_batch: BatchCallback | None = None) -> None:
        if not isinstance(compressor, BaseCompressor):
            raise TypeError(f"compressor must be a BaseCompressor, but got {type(compressor).__name__}")
        if not isinstance(max_wait_ms, (int, float)) or not max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be >= 0, but got {max_wait_ms!r}")
        self.compressor = compressor
        self.max_wait_ms = float(max_wait_ms)
        self.max_batch_size = check_positive_int("max_batch_size", max_batch_size)
        self.max_batch_tokens = check_positive_int("max_batch_tokens", max_batch_tokens)
        self.max_queue = check_positive_int("max_queue", max_queue)
        self.on_batch = on_batch
        self.stats = SchedulerStats()
        self._queue: collections.deque[_Request] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"contextzip-scheduler-{compressor.name}",
                                        daemon=True)
        self._thread.start()

    # --- public API ---------------------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a pass."""
        return len(self._queue)

    def retry_after(self) -> float:
        """A guess of how long until the queue has room (seconds): the queue over the recent batch rate."""
        sizes, times = list(self.stats.batch_sizes)[-16:], list(self.stats.batch_ms)[-16:]
        per_request_s = sum(times) / max(1, sum(sizes)) / 1000 if sizes else 0.1
        return max(1.0, round(self.queue_depth * per_request_s, 1))

    def submit(self, query: str | None, documents: DocumentsInput, *, target_tokens: int | None = None,
               rate: float | None = None, deadline: float | None = None) -> concurrent.futures.Future[CompressionResult]:
        """Queue one request; the future gets its :class:`~contextzip.CompressionResult` or its error.

        ``deadline`` is a :func:`time.monotonic` time after which the request is not compressed any more.
        Raises :class:`QueueFullError` when ``max_queue`` requests wait, ``RuntimeError`` after :meth:`close`.
        """
        req = _Request((query, documents), target_tokens, rate, _estimate_tokens(documents), deadline)
        with self._cond:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            if len(self._queue) >= self.max_queue:
                self.stats.count("rejected")
                raise QueueFullError(len(self._queue), self.retry_after())
            self._queue.append(req)
            self.stats.queue_depth = len(self._queue)
            self.stats.count("submitted")
            self._cond.notify()
        return req.future

    async def asubmit(self, query: str | None, documents: DocumentsInput, *, target_tokens: int | None = None,
                      rate: float | None = None, deadline: float | None = None) -> CompressionResult:
        """:meth:`submit`, awaited; cancelling the awaiting task cancels the request if its pass has not begun."""
        future = self.submit(query, documents, target_tokens=target_tokens, rate=rate, deadline=deadline)
        return await asyncio.wrap_future(future)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop accepting requests, compress those waiting, stop the worker thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=timeout)

    def __enter__(self) -> RequestScheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"RequestScheduler({self.compressor!r}, max_wait_ms={self.max_wait_ms}, "
                f"max_batch_size={self.max_batch_size}, max_queue={self.max_queue})")

    # --- the worker ---------------------------------------------------------------------------------------

    def _next_batch(self) -> list[_Request] | None:
        """Block for the first request, then collect for up to ``max_wait_ms``; ``None`` once closed and empty."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            wait_until = self._queue[0].enqueued + self.max_wait_ms / 1000
            while not self._closed and not self._full():
                remaining = wait_until - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch, tokens = [], 0
            while self._queue and len(batch) < self.max_batch_size:
                nxt = self._queue[0]
                if batch and tokens + nxt.tokens > self.max_batch_tokens:
                    break
                batch.append(self._queue.popleft())
                tokens += nxt.tokens
            self.stats.queue_depth = len(self._queue)
            return batch

    def _full(self) -> bool:
        return (len(self._queue) >= self.max_batch_size
                or sum(r.tokens for r in self._queue) >= self.max_batch_tokens)

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            now = time.monotonic()
            live = []
            for req in batch:
                if not req.future.set_running_or_notify_cancel():
                    self.stats.count("cancelled")
                elif req.deadline is not None and now > req.deadline:
                    self.stats.count("expired")
                    req.future.set_exception(DeadlineExceededError("the request's deadline passed in the queue"))
                else:
                    live.append(req)
            if not live:
                continue
            start = time.perf_counter()
            self._run(live)
            elapsed = (time.perf_counter() - start) * 1000
            waits = [(now - r.enqueued) * 1000 for r in live]
            self.stats.record_batch(len(live), waits, elapsed)
            if self.on_batch is not None:
                try:
                    self.on_batch(len(live), waits, elapsed)
                except Exception:  # a metrics hook must not stop the worker
                    logger.exception("on_batch callback failed")

    def _run(self, batch: list[_Request]) -> None:
        """One ``compress_batch`` call for ``batch``; when it fails, each request alone (failures stay local)."""
        try:
            results = self.compressor.compress_batch([r.item for r in batch],
                                                     target_tokens=[r.target_tokens for r in batch],
                                                     rate=[r.rate for r in batch])
        except Exception as exc:
            if len(batch) == 1:
                self.stats.count("failed")
                batch[0].future.set_exception(exc)
                return
            logger.info("a batch of %d failed (%s); retrying its requests one by one", len(batch),
                        type(exc).__name__)
            for req in batch:
                self._run([req])
            return
        for req, result in zip(batch, results, strict=True):
            self.stats.count("completed")
            req.future.set_result(result)


class ScheduledCompressor(BaseCompressor):
    """A compressor whose calls go through a :class:`RequestScheduler`, so that concurrent callers (threads, or
    asyncio tasks through :meth:`acompress`) share batched passes: the SDK wrappers' ``batch_window_ms=``, a
    LangChain step shared by an async app, any code that compresses from many threads.

    Results are the wrapped compressor's (``compress_batch`` of the pass); ``name``, ``uses_query`` and the token
    counter are its too. ``scheduler_kwargs`` go to :class:`RequestScheduler` (``max_wait_ms``,
    ``max_batch_size``, ``max_queue`` ...); ``stats`` is the scheduler's. Call :meth:`close` (or use it as a
    context manager) to stop the worker thread; it is a daemon thread, so an open one does not keep the process
    alive.
    """

    def __init__(self, compressor: BaseCompressor, **scheduler_kwargs: Any) -> None:
        if not isinstance(compressor, BaseCompressor):
            raise TypeError(f"compressor must be a BaseCompressor, but got {type(compressor).__name__}")
        super().__init__(token_counter=compressor.token_counter, separator=compressor.separator)
        self.compressor = compressor
        self.name = compressor.name  # type: ignore[misc]
        self.uses_query = compressor.uses_query  # type: ignore[misc]
        self.elision = compressor.elision
        self.scheduler = RequestScheduler(compressor, **scheduler_kwargs)
        self.stats = self.scheduler.stats

    def warm_up(self) -> None:
        self.compressor.warm_up()

    def compress_batch(self, items: Sequence[tuple[str | None, DocumentsInput]], *, target_tokens: BudgetArg = None,
                       rate: RateArg = None) -> list[CompressionResult]:
        """Each item submitted on its own (so it can share a pass with other callers' requests), then awaited."""
        budgets, rates = per_item(target_tokens, len(items), "target_tokens"), per_item(rate, len(items), "rate")
        futures = []
        for n, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(f"item {n} must be a (query, documents) pair, but got {item!r:.80}")
            futures.append(self.scheduler.submit(item[0], item[1], target_tokens=budgets[n], rate=rates[n]))
        return [f.result() for f in futures]

    async def acompress(self, documents: DocumentsInput, query: str | None = None, *,
                        target_tokens: int | None = None, rate: float | None = None) -> CompressionResult:
        """Awaits the scheduler's future: no executor thread is held while the request waits for its pass."""
        return await self.scheduler.asubmit(query, documents, target_tokens=target_tokens, rate=rate)

    async def acompress_batch(self, items: Sequence[tuple[str | None, DocumentsInput]], *,
                              target_tokens: BudgetArg = None, rate: RateArg = None) -> list[CompressionResult]:
        budgets, rates = per_item(target_tokens, len(items), "target_tokens"), per_item(rate, len(items), "rate")
        return list(await asyncio.gather(*(self.scheduler.asubmit(q, d, target_tokens=budgets[n], rate=rates[n])
                                           for n, (q, d) in enumerate(items))))

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:  # pragma: no cover
        raise AssertionError("ScheduledCompressor hands every call to its scheduler")

    def close(self, timeout: float | None = 30.0) -> None:
        self.scheduler.close(timeout)

    def __enter__(self) -> ScheduledCompressor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScheduledCompressor({self.compressor!r}, max_wait_ms={self.scheduler.max_wait_ms})"


def _estimate_tokens(documents: DocumentsInput) -> int:
    """About a token per four characters: cheap enough for the submitting thread, good enough for batching."""
    if isinstance(documents, str):
        return len(documents) // 4 + 1
    chars = 0
    try:
        for d in documents:  # type: ignore[union-attr]
            text = d if isinstance(d, str) else getattr(d, "text", None) or (d.get("text") if hasattr(d, "get") else "")
            chars += len(text) if isinstance(text, str) else 0
    except TypeError:  # not iterable: compress_batch names the problem
        return 1
    return chars // 4 + 1
