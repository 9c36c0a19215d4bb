"""The proxy's metrics: Prometheus counters, histograms and gauges in a per-app registry, and a JSON snapshot.

``/metrics?format=prometheus`` is the registry in the Prometheus text format; ``/metrics`` (JSON) reads the same
counters, plus p50/p95 latencies over the last ``window`` requests (:func:`contextzip.stats.percentile`).
Each app has its own :class:`~prometheus_client.CollectorRegistry`, so several proxies can run in one process.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from contextzip.integrations.messages import CompressedMessages
from contextzip.stats import percentile

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
_TOKEN_COUNTERS = {
    "tokens_in": "Prompt text tokens received (all messages)",
    "tokens_out": "Prompt text tokens sent upstream (all messages)",
    "context_tokens_in": "Context tokens before compression",
    "context_tokens_out": "Context tokens after compression",
}


class Metrics:
    """Thread-safe request metrics of one proxy app.

    Args:
        window: how many recent requests the JSON percentiles cover.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, window: int = 4096) -> None:
        self.registry = CollectorRegistry()
        self.started = time.time()
        ns, reg = "contextzip", self.registry
        self.requests = Counter("requests", "Chat completion requests answered, by HTTP status", ["code"],
                                namespace=ns, registry=reg)
        self.requests_compressed = Counter("requests_compressed", "Requests whose context was compressed",
                                           namespace=ns, registry=reg)
        self.tokens = {key: Counter(key, doc, namespace=ns, registry=reg) for key, doc in _TOKEN_COUNTERS.items()}
        self.request_seconds = Histogram("request_duration_seconds", "Time from request to response, in the proxy",
                                         namespace=ns, registry=reg, buckets=LATENCY_BUCKETS)
        self.overhead_seconds = Histogram("proxy_overhead_seconds", "Time spent in the proxy, not upstream",
                                          namespace=ns, registry=reg, buckets=LATENCY_BUCKETS)
        self.compression_seconds = Histogram("compression_seconds", "Compression time per request (a batch's "
                                             "time over its size)", namespace=ns, registry=reg,
                                             buckets=LATENCY_BUCKETS)
        self.batch_size = Histogram("compression_batch_size", "Requests compressed together in one pass",
                                    namespace=ns, registry=reg, buckets=BATCH_SIZE_BUCKETS)
        self.queue_depth = Gauge("compression_queue_depth", "Requests waiting for the compression worker",
                                 namespace=ns, registry=reg)
        self.wait_seconds = Histogram("compression_wait_seconds", "Time a request waited in the scheduler's "
                                      "queue before its pass", namespace=ns, registry=reg, buckets=LATENCY_BUCKETS)
        self.shed = Counter("requests_shed", "Requests refused or dropped under load, by reason (queue_full, "
                            "deadline, client_gone)", ["reason"], namespace=ns, registry=reg)
        Gauge("start_time_seconds", "When the proxy started (Unix time)", namespace=ns,
              registry=reg).set(self.started)
        self._lock = threading.Lock()
        self._overhead_ms: collections.deque[float] = collections.deque(maxlen=window)
        self._total_ms: collections.deque[float] = collections.deque(maxlen=window)
        self._compress_ms: collections.deque[float] = collections.deque(maxlen=window)  # per request, in a batch
        self._batch_sizes: collections.deque[int] = collections.deque(maxlen=window)
        self._wait_ms: collections.deque[float] = collections.deque(maxlen=window)

    def watch_queue(self, depth: Callable[[], float]) -> None:
        """Read the queue depth gauge from ``depth()`` at each scrape."""
        self.queue_depth.set_function(depth)

    def record_batch(self, size: int, elapsed_ms: float, waits_ms: Sequence[float] = ()) -> None:
        """One compression pass over ``size`` requests that took ``elapsed_ms``, after each waited ``waits_ms``."""
        self.batch_size.observe(size)
        self.compression_seconds.observe(elapsed_ms / size / 1000)
        for wait in waits_ms:
            self.wait_seconds.observe(wait / 1000)
        with self._lock:
            self._batch_sizes.append(size)
            self._compress_ms.append(elapsed_ms / size)
            self._wait_ms.extend(waits_ms)

    def record_shed(self, reason: str) -> None:
        """One request refused or dropped under load (``queue_full``, ``deadline``, ``client_gone``)."""
        self.shed.labels(reason).inc()

    def record(self, status: int, total_ms: float, overhead_ms: float | None = None,
               compressed: CompressedMessages | None = None) -> None:
        """One answered request: its status, time in the proxy, the part not spent upstream, what it saved."""
        self.requests.labels(str(status)).inc()
        self.request_seconds.observe(total_ms / 1000)
        if overhead_ms is not None:
            self.overhead_seconds.observe(overhead_ms / 1000)
        if compressed is not None:
            self.tokens["tokens_in"].inc(compressed.prompt_tokens_before)
            self.tokens["tokens_out"].inc(compressed.prompt_tokens_after)
            if compressed.result is not None:
                self.requests_compressed.inc()
                self.tokens["context_tokens_in"].inc(compressed.original_tokens)
                self.tokens["context_tokens_out"].inc(compressed.compressed_tokens)
        with self._lock:
            self._total_ms.append(total_ms)
            if overhead_ms is not None:
                self._overhead_ms.append(overhead_ms)

    def _responses_by_class(self) -> collections.Counter[str]:
        by_class: collections.Counter[str] = collections.Counter()
        for family in self.requests.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    by_class[f"responses_{sample.labels['code'][0]}xx"] += int(sample.value)
        return by_class

    def snapshot(self) -> dict[str, Any]:
        """The JSON of ``/metrics``: counters, and latency percentiles (ms) over the recent window."""
        with self._lock:
            over, total = list(self._overhead_ms), list(self._total_ms)
            compress, sizes, waits = list(self._compress_ms), list(self._batch_sizes), list(self._wait_ms)
        by_class = self._responses_by_class()
        tokens = {key: int(self.registry.get_sample_value(f"contextzip_{key}_total") or 0) for key in self.tokens}
        return {
            "requests_total": sum(by_class.values()),
            "requests_compressed": int(self.registry.get_sample_value("contextzip_requests_compressed_total") or 0),
            **{key: by_class.get(key, 0) for key in ("responses_2xx", "responses_4xx", "responses_5xx")},
            "tokens_in": tokens["tokens_in"], "tokens_out": tokens["tokens_out"],
            "tokens_saved": tokens["tokens_in"] - tokens["tokens_out"],  # out > in when documents were added
            "context_tokens_in": tokens["context_tokens_in"], "context_tokens_out": tokens["context_tokens_out"],
            "uptime_s": round(time.time() - self.started, 3),
            "latency_ms": {
                "window": len(total),
                "proxy_overhead_p50": percentile(over, 0.5), "proxy_overhead_p95": percentile(over, 0.95),
                "total_p50": percentile(total, 0.5), "total_p95": percentile(total, 0.95),
                "compression_per_request_p50": percentile(compress, 0.5),
                "compression_per_request_p95": percentile(compress, 0.95),
                "queue_wait_p50": percentile(waits, 0.5), "queue_wait_p95": percentile(waits, 0.95),
            },
            "requests_shed": {sample.labels["reason"]: int(sample.value) for family in self.shed.collect()
                              for sample in family.samples if sample.name.endswith("_total")},
            "compression_batches": len(sizes),
            "mean_batch_size": sum(sizes) / len(sizes) if sizes else None,
        }

    def prometheus(self) -> bytes:
        """The registry in the Prometheus text format (media type :attr:`content_type`)."""
        return generate_latest(self.registry)
