"""A bounded soak (issue 14.8): 2,000 requests through the proxy (truncate) against the fake upstream; the
process's resident memory after 2,000 stays within 10% of what it was after the first 200 (warm-up)."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from integration_samples import PARAGRAPHS, QUESTION

from contextzip.integrations.server import ServerConfig, create_app
from contextzip.testing.fixtures import run_in_thread

REQUESTS = int(os.environ.get("CONTEXTZIP_SOAK_REQUESTS", "2000"))
WARM_UP = 200


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_rss_stays_flat_over_a_soak(fake_openai):
    config = ServerConfig(upstream=fake_openai.base_url, target_tokens=40, compressor="truncate", warm_up=False)
    failures, after_warm_up = 0, None
    start = time.perf_counter()
    with run_in_thread(create_app(config)) as url, httpx.Client(base_url=url, timeout=30) as client:
        for i in range(REQUESTS):
            context = "\n\n".join(PARAGRAPHS[i % 4:] + PARAGRAPHS[: i % 4]) + f"\n\nRequest {i}."
            body = {"model": "echo-1", "stream": i % 10 == 0,
                    "messages": [{"role": "user", "content": f"<context>\n{context}\n</context>\n\n{QUESTION}"}]}
            resp = client.post("/v1/chat/completions", json=body)
            failures += resp.status_code != 200 or int(resp.headers.get("x-contextzip-compressed-tokens", 99)) > 40
            if i + 1 == WARM_UP:
                after_warm_up = rss_mb()
        final = rss_mb()
    elapsed = time.perf_counter() - start
    print(f"soak: {REQUESTS} requests in {elapsed:.1f} s, {failures} failures, RSS {after_warm_up:.1f} MB after "
          f"{WARM_UP} -> {final:.1f} MB after {REQUESTS} ({(final / after_warm_up - 1) * 100:+.1f}%)")
    assert failures == 0
    assert final <= 1.10 * after_warm_up
