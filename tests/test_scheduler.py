"""The request scheduler: batching of concurrent requests (threads and asyncio), per-item budgets in one pass,
backpressure, failure isolation, cancellation, deadlines and stats, with real compressors."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from contextzip.compressors.truncate import TruncateCompressor
from contextzip.scheduler import DeadlineExceededError, QueueFullError, RequestScheduler

DOCS = [f"Document {i} says that the river Elbe flows through Dresden and Hamburg, city number {i}. " * 6
        for i in range(4)]


class Counting(TruncateCompressor):
    """Truncate, counting compress_batch calls and the items each got; optionally slow or failing."""

    def __init__(self, delay: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[int] = []
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()

    def compress_batch(self, items, *, target_tokens=None, rate=None):
        self.gate.wait()
        self.calls.append(len(items))
        time.sleep(self.delay)
        return super().compress_batch(items, target_tokens=target_tokens, rate=rate)


def test_threads_with_mixed_budgets_share_one_pass():
    comp = Counting()
    comp.gate.clear()  # hold the worker so every request is queued before the first pass
    with RequestScheduler(comp, max_wait_ms=50, max_batch_size=64) as sched:
        budgets = [20, 40, 80, None] * 4
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = list(pool.map(lambda b: sched.submit("Elbe?", DOCS, target_tokens=b,
                                                           rate=0.5 if b is None else None), budgets))
        comp.gate.set()
        results = [f.result(timeout=10) for f in futures]
    calls = list(comp.calls)
    expected = comp.compress_batch([("Elbe?", DOCS)] * 16, target_tokens=budgets,
                                   rate=[0.5 if b is None else None for b in budgets])
    assert [r.text for r in results] == [r.text for r in expected]
    assert sum(calls) == 16 and len(calls) <= 2  # one pass (two if a thread was slow to submit)
    for r, b in zip(results, budgets, strict=True):
        assert r.compressed_tokens <= (b if b is not None else r.target_tokens)
    stats = sched.stats.snapshot()
    assert stats["completed"] == 16 and stats["max_batch_size"] >= 8


async def test_asyncio_submissions_are_batched(query_guided):
    calls: list[int] = []
    original = query_guided.compress_batch

    def counted(items, **kwargs):
        calls.append(len(items))
        return original(items, **kwargs)

    sched = RequestScheduler(query_guided, max_wait_ms=200, max_batch_size=8)
    query_guided.compress_batch = counted  # instance attribute: the class is untouched
    try:
        budgets = [30, 60, 90, 120]
        results = await asyncio.gather(*(sched.asubmit("Which rivers flow through Dresden?", DOCS, target_tokens=b)
                                         for b in budgets))
    finally:
        del query_guided.compress_batch
        sched.close()
    expected = query_guided.compress_batch([("Which rivers flow through Dresden?", DOCS)] * 4, target_tokens=budgets)
    assert [r.text for r in results] == [r.text for r in expected]
    assert calls == [4]
    assert all(r.compressed_tokens <= b for r, b in zip(results, budgets, strict=True))


def test_queue_full_raises_with_retry_after():
    comp = Counting()
    comp.gate.clear()
    sched = RequestScheduler(comp, max_wait_ms=0, max_batch_size=1, max_queue=2)
    try:
        first = sched.submit(None, DOCS, target_tokens=10)
        deadline = time.monotonic() + 5
        while sched.queue_depth and time.monotonic() < deadline:  # the worker took the first one
            time.sleep(0.01)
        sched.submit(None, DOCS, target_tokens=10)
        sched.submit(None, DOCS, target_tokens=10)
        with pytest.raises(QueueFullError) as info:
            sched.submit(None, DOCS, target_tokens=10)
        assert info.value.retry_after >= 1.0 and "full" in str(info.value)
        assert sched.stats.snapshot()["rejected"] == 1
    finally:
        comp.gate.set()
        sched.close()
    assert first.result(timeout=5).compressed_tokens <= 10


def test_a_failing_request_fails_alone():
    comp = Counting()
    comp.gate.clear()
    with RequestScheduler(comp, max_wait_ms=50) as sched:
        good = [sched.submit(None, DOCS, target_tokens=25) for _ in range(3)]
        bad = sched.submit(None, 12345, target_tokens=25)  # not documents: compress_batch raises TypeError
        worse = sched.submit(None, DOCS, target_tokens=-1)  # a bad budget
        comp.gate.set()
        assert all(f.result(timeout=10).compressed_tokens <= 25 for f in good)
        with pytest.raises(TypeError):
            bad.result(timeout=10)
        with pytest.raises(ValueError):
            worse.result(timeout=10)
    assert comp.calls[0] == 5  # one pass tried, then one per request
    assert sched.stats.snapshot()["failed"] == 2


def test_cancelled_and_expired_requests_are_skipped():
    comp = Counting()
    comp.gate.clear()
    with RequestScheduler(comp, max_wait_ms=0, max_batch_size=1) as sched:
        blocker = sched.submit(None, DOCS, target_tokens=10)
        time.sleep(0.05)
        cancelled = sched.submit(None, DOCS, target_tokens=10)
        expired = sched.submit(None, DOCS, target_tokens=10, deadline=time.monotonic() + 0.01)
        kept = sched.submit(None, DOCS, target_tokens=10)
        assert cancelled.cancel()
        time.sleep(0.05)
        comp.gate.set()
        assert blocker.result(timeout=5) and kept.result(timeout=5)
        with pytest.raises(DeadlineExceededError):
            expired.result(timeout=5)
    assert comp.calls == [1, 1]
    stats = sched.stats.snapshot()
    assert stats["cancelled"] == 1 and stats["expired"] == 1


async def test_cancelling_the_awaiting_task_cancels_the_request():
    comp = Counting()
    comp.gate.clear()
    sched = RequestScheduler(comp, max_wait_ms=0, max_batch_size=1)
    try:
        blocker = sched.submit(None, DOCS, target_tokens=10)
        await asyncio.sleep(0.05)
        task = asyncio.ensure_future(sched.asubmit(None, DOCS, target_tokens=10))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        comp.gate.set()
        blocker.result(timeout=5)
    finally:
        comp.gate.set()
        sched.close()
    assert comp.calls == [1]
    assert sched.stats.snapshot()["cancelled"] == 1


def test_batch_token_limit_and_callback():
    seen = []
    comp = Counting()
    comp.gate.clear()
    sched = RequestScheduler(comp, max_wait_ms=30, max_batch_tokens=len(DOCS[0]) // 4 * 4 * 2,
                             on_batch=lambda n, waits, ms: seen.append((n, len(waits))))
    futures = [sched.submit(None, DOCS, target_tokens=30) for _ in range(6)]
    comp.gate.set()
    for f in futures:
        f.result(timeout=10)
    sched.close()
    assert sum(n for n, _ in seen) == 6 and max(n for n, _ in seen) <= 2
    assert all(n == w for n, w in seen)
    with pytest.raises(RuntimeError):
        sched.submit(None, DOCS, target_tokens=30)


def test_arguments_are_checked():
    with pytest.raises(TypeError):
        RequestScheduler("truncate")
    with pytest.raises(ValueError, match="max_queue"):
        RequestScheduler(TruncateCompressor(), max_queue=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        RequestScheduler(TruncateCompressor(), max_wait_ms=-1)


# --- ScheduledCompressor: the scheduler behind the compressor API ------------------------------------------------

def test_scheduled_compressor_gives_the_wrapped_results_and_batches_threads():
    from contextzip.scheduler import ScheduledCompressor

    inner = Counting()
    inner.gate.clear()
    with ScheduledCompressor(inner, max_wait_ms=50, max_batch_size=64) as comp:
        assert comp.name == inner.name and comp.token_counter is inner.token_counter
        budgets = [20, 40, 80, 30] * 3
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(comp.compress, DOCS, "Elbe?", target_tokens=b) for b in budgets]
            time.sleep(0.2)
            inner.gate.set()
            results = [f.result(timeout=10) for f in futures]
        batch = comp.compress_batch([("Elbe?", DOCS)] * 2, target_tokens=[25, 35])
    expected = [TruncateCompressor().compress(DOCS, "Elbe?", target_tokens=b) for b in budgets]
    assert [r.text for r in results] == [r.text for r in expected]
    assert [r.compressed_tokens <= 35 for r in batch] == [True, True]
    assert max(inner.calls[:-1]) > 1  # threads shared a pass
    with pytest.raises(ValueError, match="2 values for 3 items"):
        ScheduledCompressor(TruncateCompressor()).compress_batch([("q", DOCS)] * 3, target_tokens=[1, 2])


async def test_scheduled_compressor_acompress_shares_a_pass():
    from contextzip.scheduler import ScheduledCompressor

    inner = Counting()
    with ScheduledCompressor(inner, max_wait_ms=100, max_batch_size=64) as comp:
        results = await asyncio.gather(*(comp.acompress(DOCS, "Elbe?", target_tokens=b) for b in (20, 40, 60, 80)))
        many = await comp.acompress_batch([("Elbe?", DOCS)] * 3, target_tokens=30)
    assert [r.compressed_tokens <= b for r, b in zip(results, (20, 40, 60, 80), strict=True)] == [True] * 4
    assert len(many) == 3 and inner.calls[0] == 4  # the four tasks in one pass


async def test_async_openai_wrapper_with_a_batch_window_batches_concurrent_calls():
    from openai import AsyncOpenAI

    from contextzip.integrations.openai import wrap_openai
    from contextzip.testing import fake_openai_server

    inner = Counting()
    with fake_openai_server() as server:
        client = wrap_openai(AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0), target_tokens=30,
                             compressor=inner, batch_window_ms=300)
        context = "\n\n".join(DOCS)
        replies = await asyncio.gather(*(client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": f"<context>\n{context}\n</context>\n\nQ{i}?"}])
            for i in range(4)))
        client.with_options(timeout=5)  # shares the scheduler: no second worker
        assert len(server.received) == 4
    assert all(r.choices[0].message.content.startswith("echo:") for r in replies)
    assert max(inner.calls) > 1  # concurrent calls shared a pass
    with pytest.raises(ValueError, match="batch_window_ms"):
        wrap_openai(AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="k"), target_tokens=5, batch_window_ms=-1)
