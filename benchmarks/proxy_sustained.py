"""Issue 14's sustained load: 32 clients x 20 requests of ~4,000-token contexts through the proxy, mixed budgets.

    .venv/bin/python benchmarks/proxy_sustained.py [--clients 32] [--per-client 20] [--compressor query-guided]

Prints one JSON object: requests, failures with their reasons (HTTP status and error code, or the exception
type), contexts over budget at the upstream, requests per second and latency percentiles. The proxy runs as its
own process with its default limits (``max_queue`` 256, ``compression_timeout`` 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()


def main(argv: list[str] | None = None) -> int:
    from benchmarks.proxy_load import free_port
    from benchmarks.throughput import proxy_requests, run_proxy_arm, start_proxy, wait_healthy
    from contextzip.testing import fake_openai_server
    from contextzip.tokens import get_token_counter

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--per-client", type=int, default=20)
    parser.add_argument("--context-tokens", type=int, default=4000)
    parser.add_argument("--compressor", default="query-guided")
    args = parser.parse_args(argv)
    counter = get_token_counter()
    requests = proxy_requests(args.clients * args.per_client, args.context_tokens, counter)
    with fake_openai_server() as upstream:
        port = free_port()
        proc = start_proxy(str(ROOT), upstream.base_url, port, args.compressor, False)
        try:
            wait_healthy(proc, f"http://127.0.0.1:{port}")
            result = run_proxy_arm(f"http://127.0.0.1:{port}", requests, args.clients, upstream, counter)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps(result))
    return 0 if result["failures"] == 0 and result["over_budget"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
