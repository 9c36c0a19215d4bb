"""The proxy under load: one scheduler pass for clients with different budgets, 429 when the queue is full, 503 at
the deadline, 413 for too many tokens before compression, and no upstream call for a client that went away."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from integration_samples import PARAGRAPHS, QUESTION

from contextzip.compressors.truncate import TruncateCompressor
from contextzip.integrations.messages import CONTEXT_BLOCK
from contextzip.integrations.server import ServerConfig, create_app
from contextzip.testing.fixtures import run_in_thread


class GatedTruncate(TruncateCompressor):
    """Truncate (served as "truncate") that counts its compress_batch calls and can hold or slow them."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()

    def compress_batch(self, items, *, target_tokens=None, rate=None):
        self.gate.wait(30)
        self.calls.append(len(items))
        time.sleep(self.delay)
        return super().compress_batch(items, target_tokens=target_tokens, rate=rate)


@contextlib.contextmanager
def proxy(upstream: str, compressor, **options):
    config = ServerConfig(upstream=upstream, compressor=compressor, target_tokens=60, warm_up=False, **options)
    with run_in_thread(create_app(config)) as url:
        yield url


def body(question: str = QUESTION, target: int | None = None) -> dict:
    content = "<context>\n" + "\n\n".join(PARAGRAPHS) + f"\n</context>\n\n{question}"
    out = {"model": "echo-1", "messages": [{"role": "user", "content": content}]}
    if target is not None:
        out["contextzip"] = {"target_tokens": target}
    return out


def post(url: str, payload: dict, timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=payload, timeout=timeout)


def forwarded(server, question: str) -> list[dict]:
    return [r["body"] for r in list(server.received) if r["body"]["messages"][-1]["content"].endswith(question)]


def test_mixed_budgets_share_one_compress_batch(fake_openai, counter):
    comp = GatedTruncate()
    comp.gate.clear()  # hold the first pass until every request is queued
    budgets = [30, 60, 90] * 3
    with proxy(fake_openai.base_url, comp, max_wait_ms=100, max_batch=32) as url:
        with ThreadPoolExecutor(len(budgets)) as pool:
            futures = [pool.submit(post, url, body(f"{QUESTION} mixed#{i}", b)) for i, b in enumerate(budgets)]
            time.sleep(1.0)  # every request reaches the scheduler while the first pass is held
            comp.gate.set()
            responses = [f.result() for f in futures]
        metrics = httpx.get(f"{url}/metrics").json()
    assert [r.status_code for r in responses] == [200] * len(budgets)
    assert sum(comp.calls) == len(budgets) and len(comp.calls) <= 2, comp.calls  # one pass (two at most)
    assert metrics["mean_batch_size"] >= len(budgets) / 2
    for i, (response, b) in enumerate(zip(responses, budgets, strict=True)):
        assert int(response.headers["x-contextzip-target-tokens"]) == b
        [sent] = forwarded(fake_openai, f"mixed#{i}")
        assert counter.count(CONTEXT_BLOCK.search(sent["messages"][-1]["content"]).group(2).strip()) <= b


def test_full_queue_answers_429_with_retry_after(fake_openai):
    comp = GatedTruncate()
    comp.gate.clear()
    with proxy(fake_openai.base_url, comp, max_wait_ms=0, max_batch=1, max_queue=1) as url:
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(post, url, body(f"{QUESTION} full#{i}")) for i in range(6)]
            time.sleep(1.0)  # one in the pass (held), one queued, the rest refused
            comp.gate.set()
            responses = [f.result() for f in futures]
        shed = httpx.get(f"{url}/metrics").json()["requests_shed"]
        prom = httpx.get(f"{url}/metrics", params={"format": "prometheus"}).text
    codes = sorted(r.status_code for r in responses)
    assert codes.count(429) >= 3 and set(codes) <= {200, 429}, codes
    refused = [r for r in responses if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json()["error"]["code"] == "queue_full"
    assert shed == {"queue_full": codes.count(429)}
    assert 'contextzip_requests_shed_total{reason="queue_full"}' in prom
    assert "contextzip_compression_wait_seconds_count" in prom
    assert sum(len(forwarded(fake_openai, f"full#{i}")) for i in range(6)) == codes.count(200)


def test_deadline_covers_queueing_and_compression(fake_openai):
    comp = GatedTruncate(delay=1.5)
    with proxy(fake_openai.base_url, comp, compression_timeout=0.5) as url:
        response = post(url, body(f"{QUESTION} late"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "compression_timeout"
    assert int(response.headers["retry-after"]) >= 1
    assert forwarded(fake_openai, "late") == []


def test_no_upstream_call_for_a_client_that_left(fake_openai):
    comp = GatedTruncate()
    comp.gate.clear()
    with proxy(fake_openai.base_url, comp, max_wait_ms=0, max_batch=1) as url:
        with ThreadPoolExecutor(2) as pool:
            blocker = pool.submit(post, url, body(f"{QUESTION} blocker"))
            time.sleep(0.3)
            gone = pool.submit(post, url, body(f"{QUESTION} gone"), 0.5)  # gives up after 0.5 s
            try:
                gone.result()
            except httpx.TimeoutException:
                pass
            time.sleep(0.5)  # the proxy notices the disconnect and cancels the queued request
            comp.gate.set()
            assert blocker.result().status_code == 200
        time.sleep(0.3)
        metrics = httpx.get(f"{url}/metrics").json()
    assert forwarded(fake_openai, "gone") == []
    assert comp.calls == [1]  # the cancelled request was never compressed
    assert metrics["requests_shed"] == {"client_gone": 1}


def test_too_many_tokens_refused_before_compression(fake_openai):
    comp = GatedTruncate()
    with proxy(fake_openai.base_url, comp, max_request_tokens=50) as url:
        response = post(url, body(f"{QUESTION} huge"))
    assert response.status_code == 413
    assert "limit is 50" in response.json()["error"]["message"]
    assert comp.calls == [] and forwarded(fake_openai, "huge") == []


def test_new_settings_are_validated():
    for bad in ({"max_queue": 0}, {"max_request_tokens": 0}, {"compression_timeout": 0}, {"max_wait_ms": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServerConfig(upstream="http://127.0.0.1:1/v1", **bad)
