"""Load test of the compressing proxy: concurrent clients, long contexts, budgets checked at the upstream.

    .venv/bin/python benchmarks/proxy_load.py                  # 8 clients, 100 requests, ~4,000-token contexts
    .venv/bin/python benchmarks/proxy_load.py --requests 20 --no-write   # a quick look, docs untouched

A fake OpenAI-compatible upstream (``contextzip.testing.fake_openai_server``) runs on 127.0.0.1 in this process
and records every request it receives; the proxy runs as its own process (``python -m contextzip serve``), as it
would be deployed. Each client (the real ``openai`` SDK, one thread each) sends chat requests whose user turn
holds a ``<context>`` block of about ``--context-tokens`` tokens. The script checks that every request succeeded
and that every context the upstream received is within its budget, then reports latency through the proxy, latency
of the same requests sent straight to the upstream, and the proxy's own overhead (its ``X-ContextZip-Overhead-Ms``
header: parsing, waiting for the compression worker and compressing, before the upstream call). It writes
``docs/sections/proxy.md``, which the benchmarks page includes verbatim. CPU timings depend on the machine and on
what else runs on it: re-run at a quiet moment before quoting them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

import httpx  # noqa: E402
from openai import OpenAI  # noqa: E402

from contextzip.integrations.messages import CONTEXT_BLOCK  # noqa: E402
from contextzip.stats import percentile  # noqa: E402
from contextzip.testing import fake_openai_server  # noqa: E402
from contextzip.tokens import get_token_counter  # noqa: E402

_PLACES = ["Harwick", "Skarn", "Elmstead", "Brackwater", "Tollin", "Marrow Bay", "Keddle", "Ostby", "Fennick", "Rothe"]
_THINGS = ["lighthouse", "ferry service", "herring fleet", "town museum", "railway station", "paper mill",
           "grammar school", "harbour wall", "weather station", "lifeboat crew", "market hall", "tide mill"]
_VERBS = ["was founded in", "was rebuilt in", "closed briefly in", "doubled in size in", "was renamed in",
          "was inspected in", "was extended in", "received a royal charter in", "was damaged by a storm in"]
_TAILS = ["after a long public campaign", "when the county council approved the plans", "despite a shortage of funds",
          "with the help of volunteers from the parish", "following a fire in the east wing",
          "as trade along the coast increased", "under its third director", "to the surprise of local residents"]


def synthetic_context(rng: random.Random, counter, target_tokens: int, answer: str) -> str:
    """Paragraphs of plausible, varied sentences, about ``target_tokens`` long, with ``answer`` in one of them."""
    paragraphs: list[str] = []
    tokens = 0
    while tokens < target_tokens:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            place, thing = rng.choice(_PLACES), rng.choice(_THINGS)
            sentences.append(f"The {thing} of {place} {rng.choice(_VERBS)} {rng.randint(1820, 2015)} "
                             f"{rng.choice(_TAILS)}, and {rng.randint(2, 90)} people worked there by "
                             f"{rng.randint(1900, 2020)}.")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        tokens += counter.count(paragraph) + 1
    paragraphs.insert(rng.randrange(len(paragraphs)), answer)
    return "\n\n".join(paragraphs)


@dataclass
class Outcome:
    index: int
    ok: bool
    latency_ms: float
    overhead_ms: float | None = None
    error: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_clients(base_url: str, requests: list[list[dict]], concurrency: int, proxied: bool) -> tuple[list[Outcome], float]:
    clients = [OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600) for _ in range(concurrency)]

    def one(i: int) -> Outcome:
        client = clients[i % concurrency]
        start = time.perf_counter()
        try:
            raw = client.chat.completions.with_raw_response.create(model="echo-1", messages=requests[i])
            raw.parse()
            ms = (time.perf_counter() - start) * 1000
            overhead = float(raw.headers["x-contextzip-overhead-ms"]) if proxied else None
            return Outcome(i, True, ms, overhead)
        except Exception as exc:  # recorded, reported, and fails the run
            return Outcome(i, False, (time.perf_counter() - start) * 1000, error=f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(one, range(len(requests))))
    return outcomes, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--context-tokens", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=1000, help="context budget per request, in tokens")
    parser.add_argument("--compressor", default="query-guided")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "sections", "proxy.md"))
    parser.add_argument("--no-write", action="store_true", help="print the section, do not write it")
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "context_tokens", "budget"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, but got {getattr(args, name)}")

    counter = get_token_counter()
    rng = random.Random(args.seed)
    requests, context_sizes = [], []
    for i in range(args.requests):
        answer = f"Request {i}: the keeper of the {rng.choice(_PLACES)} light was Marta Lindqvist-{i}."
        context = synthetic_context(rng, counter, args.context_tokens, answer)
        context_sizes.append(counter.count(context))
        requests.append([
            {"role": "system", "content": "Answer from the context only."},
            {"role": "user", "content": f"<context>\n{context}\n</context>\n\nQuestion #{i}: who was the keeper?"},
        ])

    load_before = os.getloadavg()
    with fake_openai_server() as upstream:
        port = free_port()
        command = [sys.executable, "-m", "contextzip", "serve", "--upstream", upstream.base_url, "--port", str(port),
                   "--budget", str(args.budget), "--compressor", args.compressor]
        proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            proxy_url = f"http://127.0.0.1:{port}"
            started = time.perf_counter()
            for _ in range(600):  # start-up includes loading the compressor's model (bounded wait: 120 s)
                if proxy.poll() is not None:
                    raise SystemExit(f"the proxy exited: {proxy.stderr.read() if proxy.stderr else ''}")
                try:
                    if httpx.get(f"{proxy_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise SystemExit("the proxy did not become healthy within 120 s")
            startup_s = time.perf_counter() - started
            warm = OpenAI(base_url=f"{proxy_url}/v1", api_key="bench", max_retries=0)
            warm.chat.completions.create(model="echo-1", messages=requests[0])  # first-call costs, not counted

            direct, direct_wall = run_clients(upstream.base_url, requests, args.concurrency, proxied=False)
            upstream.received.clear()
            outcomes, wall = run_clients(f"{proxy_url}/v1", requests, args.concurrency, proxied=True)
            received = list(upstream.received)
            metrics = httpx.get(f"{proxy_url}/metrics").json()
        finally:
            proxy.terminate()
            try:
                proxy.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proxy.kill()
    load_after = os.getloadavg()

    failures = [o for o in outcomes if not o.ok] + [o for o in direct if not o.ok]
    upstream_context: dict[int, int] = {}
    answer_kept = 0
    for rec in received:
        content = rec["body"]["messages"][-1]["content"]
        number = re.search(r"Question #(\d+):", content)
        block = CONTEXT_BLOCK.search(content)
        if number and block:
            i = int(number.group(1))
            upstream_context[i] = counter.count(block.group(2).strip())
            answer_kept += f"Lindqvist-{i}." in block.group(2)
    missing = sorted(set(range(args.requests)) - set(upstream_context))
    over = {i: n for i, n in upstream_context.items() if n > args.budget}

    lat = [o.latency_ms for o in outcomes if o.ok]
    dlat = [o.latency_ms for o in direct if o.ok]
    over_ms = [o.overhead_ms for o in outcomes if o.ok and o.overhead_ms is not None]
    added = [p.latency_ms - d.latency_ms for p, d in zip(outcomes, direct, strict=True) if p.ok and d.ok]
    ok = not failures and not missing and not over
    sizes = list(upstream_context.values())

    def row(name: str, values: list[float]) -> str:
        return f"| {name} | {percentile(values, 0.5):,.0f} | {percentile(values, 0.95):,.0f} | {max(values):,.0f} |"

    cmd = "benchmarks/proxy_load.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "## Proxy under load",
        "",
        f"`{cmd.strip()}` on {datetime.date.today().isoformat()}: {args.concurrency} concurrent clients (the "
        f"`openai` SDK, one thread each) sent {args.requests} chat requests, each with a `<context>` of "
        f"{statistics.mean(context_sizes):,.0f} tokens on average ({min(context_sizes):,}-{max(context_sizes):,}), "
        f"through `contextzip serve --budget {args.budget} --compressor {args.compressor}` (its own process) to a "
        "local echo upstream on 127.0.0.1 that recorded what it received.",
        "",
        f"- **Requests that succeeded:** {len(outcomes) - len([o for o in outcomes if not o.ok])} of {len(outcomes)}"
        f" through the proxy ({len(dlat)} of {len(direct)} sent straight to the upstream).",
        f"- **Upstream contexts within budget:** {len(sizes) - len(over)} of {args.requests} "
        f"(largest {max(sizes) if sizes else 0} tokens for a budget of {args.budget}; mean "
        f"{statistics.mean(sizes) if sizes else 0:,.0f}); missing at the upstream: {len(missing)}.",
        f"- **Planted answer sentence kept:** {answer_kept} of {len(received)} requests.",
        f"- **Throughput:** {len(lat) / wall:.2f} requests/s through the proxy ({wall:.1f} s wall), "
        f"{len(dlat) / direct_wall:.1f} requests/s straight to the upstream.",
        f"- **Proxy metrics after the run:** tokens in {metrics['tokens_in']:,}, out {metrics['tokens_out']:,}, saved "
        f"{metrics['tokens_saved']:,} (the warm-up request included); {metrics['compression_batches']} compression "
        f"batches of {metrics['mean_batch_size'] or 0:.1f} requests on average, "
        f"{metrics['latency_ms']['compression_per_request_p50'] or 0:,.0f} ms of compression per request (p50).",
        "",
        "| latency (ms) | p50 | p95 | max |",
        "|---|---:|---:|---:|",
        row("through the proxy (client-observed)", lat),
        row("straight to the upstream (same load)", dlat),
        row("**added by the proxy** (per request: through the proxy minus straight)", added),
        row("proxy time before the upstream call (its header: parsing, queueing, compression)", over_ms),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"load average {load_before[0]:.1f} before and {load_after[0]:.1f} after the run (other jobs shared the "
        f"CPU, so these latencies are noisy; re-run the command at a quiet moment). Proxy start-up, including "
        f"loading the model: {startup_s:.1f} s. With {args.concurrency} clients and one compression worker, the "
        "added latency is mostly queueing: requests wait while earlier ones are compressed (the worker compresses "
        "queued requests with the same settings in one batched pass).",
    ]
    if failures:
        lines += ["", "Failures: " + "; ".join(f"#{o.index}: {o.error[:200]}" for o in failures[:5])]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(section)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
