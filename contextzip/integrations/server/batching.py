"""The proxy's compression worker: one thread; queued requests with the same settings share one batched pass."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contextzip.api import resolve_compressor
from contextzip.integrations.messages import CompressedMessages, MessageContext, finish

if TYPE_CHECKING:
    from contextzip.integrations.server.metrics import Metrics


@dataclass
class CompressionJob:
    """One request's context to compress, with its settings; ``future`` gets the result."""

    context: MessageContext
    compressor: Any
    token_counter: str | None
    target_tokens: int | None
    rate: float | None
    future: concurrent.futures.Future[CompressedMessages] = field(default_factory=concurrent.futures.Future)

    @property
    def key(self) -> tuple[Any, ...]:
        """Jobs with the same key are compressed together."""
        name = self.compressor if isinstance(self.compressor, str) else id(self.compressor)
        return (name, self.token_counter, self.target_tokens, self.rate)


class CompressionWorker:
    """One thread that compresses queued requests; requests with the same settings share one batched pass."""

    def __init__(self, max_batch: int = 16, metrics: Metrics | None = None) -> None:
        self.max_batch = max_batch
        self.metrics = metrics
        self._queue: queue.Queue[CompressionJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="contextzip-compression", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the worker (approximate, as ``queue.Queue.qsize``)."""
        return self._queue.qsize()

    async def submit(self, job: CompressionJob) -> CompressedMessages:
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
            groups: dict[tuple[Any, ...], list[CompressionJob]] = collections.defaultdict(list)
            for job in jobs:
                groups[job.key].append(job)
            for group in groups.values():
                start = time.perf_counter()
                self._run(group)
                if self.metrics is not None:
                    self.metrics.record_batch(len(group), (time.perf_counter() - start) * 1000)

    @classmethod
    def _run(cls, group: list[CompressionJob]) -> None:
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
                cls._run([job])
