"""Throughput at every scale, every figure a ratio measured side by side in one run (issue 11).

    .venv/bin/python benchmarks/throughput.py proxy       # proxy with vs without the scheduler, 8 and 32 clients
    .venv/bin/python benchmarks/throughput.py cache       # Zipf stream, 2,000 requests over 500 documents
    .venv/bin/python benchmarks/throughput.py fast-path   # default vs ONNX int8 MiniLM on HotpotQA (p50, retention)
    .venv/bin/python benchmarks/throughput.py ray         # contextzip.integrations.ray, 1 vs 2 workers; 10k rows
    .venv/bin/python benchmarks/throughput.py growth      # cost from 1k to 1M input tokens

Each prints one JSON object (raw numbers, the load average before and after) and writes it to
``benchmarks/results/throughput-<name>.json``; docs/benchmarks.md ("Performance") quotes them. Take the
``/work/QUIET`` lock (see HELPERS.md) before a timed run.

``proxy``: the proxy runs as its own process (``contextzip serve``), once from a snapshot of this tree and once
from the same snapshot with the proxy package of before the scheduler (``--baseline-commit``, a single worker
thread that batched only requests with identical settings). Clients (one thread each, the ``openai`` SDK) send
~4k-token ``<context>`` blocks with budgets cycling 500 / 1,000 / 2,000. Each proxy runs with query-guided on the
torch embedder and on today's CPU default (ONNX int8 per token row): four arms.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, load, offline_hub_defaults, write_result  # noqa: E402

offline_hub_defaults()

from contextzip.stats import percentile  # noqa: E402

BUDGETS = (500, 1000, 2000)


def summary(ms: list[float]) -> dict[str, float | None]:
    return {"p50_ms": percentile(ms, 0.5), "p95_ms": percentile(ms, 0.95), "max_ms": max(ms) if ms else None}


# --- proxy ---------------------------------------------------------------------------------------------------


def snapshot(baseline_commit: str | None, folder: str) -> str:
    """A copy of this tree's package (working tree as it is), with the proxy package of ``baseline_commit``."""
    shutil.copytree(os.path.join(ROOT, "contextzip"), os.path.join(folder, "contextzip"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    if baseline_commit:
        server = os.path.join(folder, "contextzip", "integrations", "server")
        shutil.rmtree(server)
        archive = subprocess.run(["git", "archive", baseline_commit, "contextzip/integrations/server"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def start_proxy(pythonpath: str, upstream: str, port: int, compressor: str, backend: str) -> subprocess.Popen:
    """The proxy of the tree at ``pythonpath`` in its own process, built with only the ``ServerConfig`` arguments
    that both the baseline and the current proxy take (the CLI's flags have grown since the baseline).
    ``backend``: "default" (``compressor`` by name: query-guided's embedder is ONNX int8 on CPU), or "torch" /
    "onnx" for query-guided's embedder."""
    env = dict(os.environ, PYTHONPATH=pythonpath)
    if backend != "default":
        made = ("from contextzip.compressors.query_guided import QueryGuidedCompressor;"
                f"comp = QueryGuidedCompressor(backend={backend!r});")
    else:
        made = f"comp = {compressor!r};"
    code = (made + "from contextzip.integrations.server import ServerConfig, serve;"
            f"serve(ServerConfig(upstream={upstream!r}, target_tokens=1000, compressor=comp), "
            f"port={port}, log_level='warning')")
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=pythonpath, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 180.0) -> None:
    import contextlib

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"the proxy is not healthy: {proc.stderr.read() if proc.poll() is not None and proc.stderr else 'timeout'}")


def proxy_requests(n: int, context_tokens: int, counter: Any) -> list[tuple[list[dict], int]]:
    """``n`` chat requests (messages, budget): a ``<context>`` of about ``context_tokens`` tokens holding one
    planted answer, a numbered question, budgets cycling through :data:`BUDGETS` (seeded: the same every run)."""
    from benchmarks.proxy_load import _PLACES, synthetic_context

    rng = random.Random(0)
    requests = []
    for i in range(n):
        answer = f"Request {i}: the keeper of the {rng.choice(_PLACES)} light was Marta Lindqvist-{i}."
        context = synthetic_context(rng, counter, context_tokens, answer)
        requests.append(([{"role": "system", "content": "Answer from the context only."},
                          {"role": "user", "content": f"<context>\n{context}\n</context>\n\n"
                                                      f"Question #{i}: who was the keeper?"}], BUDGETS[i % len(BUDGETS)]))
    return requests


def run_proxy_arm(url: str, requests: list[tuple[list[dict], int]], clients: int, upstream: Any,
                  counter: Any) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI

    from contextzip.integrations.messages import CONTEXT_BLOCK

    sdk = [OpenAI(base_url=f"{url}/v1", api_key="bench", max_retries=0, timeout=600) for _ in range(clients)]
    sdk[0].chat.completions.create(model="echo-1", messages=requests[0][0],
                                   extra_body={"contextzip": {"target_tokens": 1000}})  # warm, not counted
    upstream.received.clear()

    failures: collections.Counter[str] = collections.Counter()

    def one(i: int) -> tuple[bool, float, float]:
        messages, budget = requests[i]
        start = time.perf_counter()
        try:
            raw = sdk[i % clients].chat.completions.with_raw_response.create(
                model="echo-1", messages=messages, extra_body={"contextzip": {"target_tokens": budget}})
            raw.parse()
            return True, (time.perf_counter() - start) * 1000, float(raw.headers["x-contextzip-overhead-ms"])
        except Exception as exc:  # counted as a failure, by status code (or exception type) and error code
            body = getattr(exc, "body", None)
            code = body.get("code") if isinstance(body, dict) else None
            failures[f"{getattr(exc, 'status_code', type(exc).__name__)} {code or ''}".strip()] += 1
            return False, (time.perf_counter() - start) * 1000, float("nan")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(one, range(len(requests))))
    wall = time.perf_counter() - start
    over = 0
    for rec in list(upstream.received):
        content = rec["body"]["messages"][-1]["content"]
        i = int(re.search(r"Question #(\d+):", content).group(1))
        over += counter.count(CONTEXT_BLOCK.search(content).group(2).strip()) > requests[i][1]
    added = [o[2] for o in outcomes if o[0]]
    return {"requests": len(requests), "failures": sum(not o[0] for o in outcomes),
            "failure_reasons": dict(failures), "over_budget": over,
            "forwarded": len(upstream.received), "wall_s": round(wall, 2),
            "requests_per_s": round(len(requests) / wall, 3), "added_latency": summary(added),
            "latency": summary([o[1] for o in outcomes if o[0]])}


def bench_proxy(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.proxy_load import free_port
    from contextzip.testing import fake_openai_server
    from contextzip.tokens import get_token_counter

    counter = get_token_counter()
    n = max(args.clients) * args.per_client if args.requests is None else args.requests
    requests = proxy_requests(n, args.context_tokens, counter)
    # The baseline tree is today's with the proxy (contextzip/integrations/server) of ``baseline_commit``: the same
    # compressors, the proxy before the scheduler. Each proxy runs with the torch embedder (what query-guided ran
    # on before the ONNX default) and with today's default (ONNX int8 per token row on CPU).
    arms = [("without scheduler, torch", args.baseline_commit, "torch"),
            ("without scheduler, default", args.baseline_commit, "default"),
            ("with scheduler, torch", None, "torch"),
            ("with scheduler, default", None, "default")]
    out: dict[str, Any] = {"context_tokens": args.context_tokens, "budgets": BUDGETS, "compressor": args.compressor,
                           "baseline_commit": args.baseline_commit, "load_before": load(), "arms": {}}
    with tempfile.TemporaryDirectory() as tmp, fake_openai_server() as upstream:
        trees = {c: snapshot(c, os.path.join(tmp, c or "head")) for c in {a[1] for a in arms}}
        for clients in args.clients:
            for name, commit, backend in arms:
                port = free_port()
                proc = start_proxy(trees[commit], upstream.base_url, port, args.compressor, backend)
                try:
                    wait_healthy(proc, f"http://127.0.0.1:{port}")
                    result = run_proxy_arm(f"http://127.0.0.1:{port}", requests[: clients * args.per_client],
                                           clients, upstream, counter)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                result["load_after"] = load()
                out["arms"].setdefault(str(clients), {})[name] = result
                print(clients, name, json.dumps(result), file=sys.stderr, flush=True)
            arm = out["arms"][str(clients)]

            def ratio(a: str, b: str, arm: dict[str, Any] = arm) -> float:
                return round(arm[a]["requests_per_s"] / arm[b]["requests_per_s"], 2)

            arm["speedup"] = {
                "scheduler alone, torch": ratio("with scheduler, torch", "without scheduler, torch"),
                "scheduler alone, default": ratio("with scheduler, default", "without scheduler, default"),
                "today's proxy vs the proxy before": ratio("with scheduler, default", "without scheduler, torch")}
    out["load_after"] = load()
    return out


# --- cache ---------------------------------------------------------------------------------------------------


def bench_cache(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from contextzip.cache import MemoryCache
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.eval.datasets import load_dataset
    from contextzip.models import SentenceEmbedder

    examples = load_dataset("hotpotqa")
    pool = list({d.text: d for ex in examples for d in ex.documents}.values())[: args.documents]
    questions = [ex.question for ex in examples]
    rng = np.random.default_rng(0)
    ranks = np.arange(1, len(pool) + 1, dtype=np.float64)
    p = ranks ** -args.zipf_s
    p /= p.sum()
    stream = [(questions[i % len(questions)], [pool[j] for j in rng.choice(len(pool), args.docs_per_request,
                                                                          replace=False, p=p)])
              for i in range(args.requests)]
    embedder: Any = SentenceEmbedder
    if args.onnx:
        from contextzip.onnx_embedder import OnnxSentenceEmbedder as embedder
    # ONNX int8 scales activations per token row: a text's vector does not depend on its batch, so the plain
    # and cached arms compute the same vectors in batches of 8.
    plain = QueryGuidedCompressor(embedder=embedder(cache=False))
    cached_embedder = embedder(cache=MemoryCache())
    cached = QueryGuidedCompressor(embedder=cached_embedder)
    plain.warm_up()
    cached.warm_up()
    out: dict[str, Any] = {"requests": len(stream), "distinct_documents": len(pool), "zipf_s": args.zipf_s,
                           "embedder": "ONNX int8" if args.onnx else "torch",
                           "docs_per_request": args.docs_per_request, "budget": args.budget, "load_before": load()}
    texts = {}
    for name, comp in (("without cache", plain), ("with cache", cached)):
        comp.compress(stream[0][1], stream[0][0], target_tokens=args.budget)  # warm (the cache too: 1 request)
        start = time.perf_counter()
        texts[name] = [comp.compress(docs, q, target_tokens=args.budget).text for q, docs in stream]
        out[name] = {"seconds": round(time.perf_counter() - start, 2), "load_after": load()}
        print(name, out[name], file=sys.stderr, flush=True)
    out["speedup"] = round(out["without cache"]["seconds"] / out["with cache"]["seconds"], 2)
    out["identical_outputs"] = sum(a == b for a, b in zip(texts["without cache"], texts["with cache"], strict=True))
    out["cache"] = {**cached_embedder.cache.stats.snapshot(), "bytes": cached_embedder.cache.backend.nbytes}
    out["load_after"] = load()
    return out


# --- fast path -----------------------------------------------------------------------------------------------


def bench_fast_path(args: argparse.Namespace) -> dict[str, Any]:
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.eval.runner import run_eval
    from contextzip.onnx_embedder import OnnxSentenceEmbedder

    torch_arm = QueryGuidedCompressor(backend="torch")
    dtype = str(torch_arm.embedder.engine.dtype).replace("torch.", "")  # bf16 only where the CPU has native kernels
    arms = {f"torch ({dtype})": torch_arm,
            "ONNX int8 per row (the CPU default)": QueryGuidedCompressor(embedder=OnnxSentenceEmbedder())}
    for comp in arms.values():
        comp.warm_up()
    out: dict[str, Any] = {"rate": 0.25, "load_before": load()}
    keys = ("n", "answer_retention", "supporting_retention", "p50_ms", "p95_ms", "budget_violations",
            "tokens_per_second")
    for dataset in args.datasets:
        for name, comp in arms.items():
            summary_, _ = run_eval(dataset, comp, rate=0.25, limit=args.limit)
            out.setdefault(dataset, {})[name] = {k: summary_[k] for k in keys}
            out[dataset][name]["load_after"] = load()
            print(dataset, name, json.dumps(out[dataset][name]), file=sys.stderr, flush=True)
    out["load_after"] = load()
    return out


# --- ray -----------------------------------------------------------------------------------------------------


def bench_ray(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from contextzip.eval.datasets import load_dataset
    from contextzip.integrations.ray import compress_dataset
    from contextzip.registry import load_compressor

    examples = load_dataset("hotpotqa")
    rows = [{"id": i, "query": ex.question, "documents": [d.text for d in ex.documents]}
            for i, ex in enumerate(examples[: args.rows])]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    out: dict[str, Any] = {"rows": len(rows), "compressor": args.compressor, "rate": 0.25, "load_before": load()}
    try:
        for workers in (1, 2):
            ds = ray.data.from_items(rows)
            compress_dataset(ds.limit(8), args.compressor, rate=0.25, num_workers=workers).take_all()  # warm
            start = time.perf_counter()
            done = compress_dataset(ds, args.compressor, rate=0.25, num_workers=workers, batch_size=16).take_all()
            seconds = time.perf_counter() - start
            out[f"{workers} workers"] = {"seconds": round(seconds, 2), "rows_per_s": round(len(done) / seconds, 2)}
            print(workers, out[f"{workers} workers"], file=sys.stderr, flush=True)
        out["speedup"] = round(out["1 workers"]["seconds"] / out["2 workers"]["seconds"], 2)
        # Acceptance: 10,000 rows through Ray give the same outputs as compress_batch (a model-free compressor).
        rng = random.Random(0)
        big = [{"id": i, "query": rows[i % len(rows)]["query"],
                "documents": rng.sample(rows[i % len(rows)]["documents"], k=min(4, len(rows[i % len(rows)]["documents"]))),
                "budget": BUDGETS[i % 3] // 10} for i in range(args.acceptance_rows)]
        start = time.perf_counter()
        got = compress_dataset(ray.data.from_items(big), args.acceptance_compressor, budget_column="budget",
                               num_workers=2, batch_size=256).take_all()
        ray_s = time.perf_counter() - start
        expected = load_compressor(args.acceptance_compressor).compress_batch(
            [(r["query"], r["documents"]) for r in big], target_tokens=[r["budget"] for r in big])
        by_id = {int(r["id"]): r["compressed"] for r in got}
        same = sum(by_id.get(r["id"]) == e.text for r, e in zip(big, expected, strict=True))
        out["acceptance"] = {"rows": len(big), "compressor": args.acceptance_compressor, "same_as_compress_batch": same,
                             "ray_seconds": round(ray_s, 2)}
    finally:
        ray.shutdown()
    out["load_after"] = load()
    return out


# --- growth --------------------------------------------------------------------------------------------------


def bench_growth(args: argparse.Namespace) -> dict[str, Any]:
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.eval.datasets import load_dataset
    from contextzip.onnx_embedder import OnnxSentenceEmbedder
    from contextzip.tokens import get_token_counter

    counter = get_token_counter()
    examples = load_dataset("hotpotqa")
    paragraphs = list(dict.fromkeys(d.text for ex in examples for d in ex.documents))
    question = examples[0].question
    comps = {"query-guided": QueryGuidedCompressor(backend="torch")}
    if args.onnx:
        comps["query-guided (ONNX int8)"] = QueryGuidedCompressor(embedder=OnnxSentenceEmbedder())
    out: dict[str, Any] = {"load_before": load(), "sizes": {}}
    for comp in comps.values():
        comp.compress(paragraphs[:10], question, target_tokens=200)
    for size in args.sizes:
        docs, tokens = [], 0
        for text in paragraphs * (size // 100_000 + 2):
            if tokens >= size:
                break
            docs.append(text)
            tokens += counter.count(text)
        row: dict[str, Any] = {"input_tokens": tokens, "documents": len(docs)}
        for name, comp in comps.items():
            if name == "query-guided" and size > args.torch_max:
                continue
            start = time.perf_counter()
            result = comp.compress(docs, question, target_tokens=1000)
            seconds = time.perf_counter() - start
            row[name] = {"seconds": round(seconds, 3), "tokens_per_s": round(tokens / seconds),
                         "compressed_tokens": result.compressed_tokens}
        out["sizes"][str(size)] = row
        print(size, json.dumps(row), file=sys.stderr, flush=True)
    out["load_after"] = load()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    p.add_argument("--per-client", type=int, default=3, help="requests per client")
    p.add_argument("--requests", type=int, default=None)
    p.add_argument("--context-tokens", type=int, default=4000)
    p.add_argument("--compressor", default="query-guided")
    p.add_argument("--baseline-commit", default="97f7aba", help="the proxy package before the scheduler")
    p.add_argument("--onnx", action="store_true", help="(kept for old command lines: every run now has the ONNX arms)")
    c = sub.add_parser("cache")
    c.add_argument("--requests", type=int, default=2000)
    c.add_argument("--documents", type=int, default=500)
    c.add_argument("--docs-per-request", type=int, default=5)
    c.add_argument("--zipf-s", type=float, default=1.1)
    c.add_argument("--budget", type=int, default=150)
    c.add_argument("--onnx", action="store_true", help="both arms on the ONNX int8 embedder")
    f = sub.add_parser("fast-path")
    f.add_argument("--datasets", nargs="+", default=["hotpotqa"])
    f.add_argument("--limit", type=int, default=300)
    r = sub.add_parser("ray")
    r.add_argument("--rows", type=int, default=96)
    r.add_argument("--compressor", default="query-guided")
    r.add_argument("--acceptance-rows", type=int, default=10_000)
    r.add_argument("--acceptance-compressor", default="truncate")
    g = sub.add_parser("growth")
    g.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    g.add_argument("--onnx", action="store_true")
    g.add_argument("--torch-max", type=int, default=1_000_000, help="largest input for the torch arm")
    for sp in (p, c, f, r, g):
        sp.add_argument("--tag", default="", help="appended to the results file name")
    args = parser.parse_args(argv)
    bench = {"proxy": bench_proxy, "cache": bench_cache, "fast-path": bench_fast_path, "ray": bench_ray,
             "growth": bench_growth}[args.bench]
    result = {"bench": args.bench, "argv": sys.argv[1:], "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              **bench(args)}
    write_result(f"throughput-{args.bench}", args.tag, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
