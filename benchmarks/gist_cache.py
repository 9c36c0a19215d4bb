"""Gist cache: encoding 1,000 SQuAD paragraphs, then the same paragraphs again (issue 12: >= 50x faster).

One run, four passes over the same items (each paragraph one ``(query, [paragraph])`` item, ``compress_batch``
end to end: segmentation, decoder-token counts, cache look-ups and results, not only the encoder):

1. cold: an empty cache (memory, and a fresh on-disk store in a temporary folder): every segment is encoded;
2. warm: the same compressor and items again (memory hits);
3. other queries and budgets: every item with a question and a smaller budget (so another k): still memory hits,
   since one entry per segment serves every k;
4. disk: a new compressor (empty memory) on the same folder: every segment read from disk.

The projector is the packaged one when trained, else a seeded random one (timings do not depend on its weights).
Writes the table between the ``gist-cache`` markers of docs/sections/gist.md and the raw figures to
benchmarks/results/gist_cache.json. Take the /work/QUIET lock first (HELPERS.md).

Usage: python benchmarks/gist_cache.py [--limit 1000] [--budget 16]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

DOC = os.path.join(ROOT, "docs", "sections", "gist.md")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "gist_cache.json")
START, END = "<!-- gist-cache:start -->", "<!-- gist-cache:end -->"


def squad_paragraphs(data_dir: str, limit: int) -> list[tuple[str, str]] | None:
    """(first question, paragraph) of the first ``limit`` distinct SQuAD v1.1 dev paragraphs; None when absent."""
    path = os.path.join(data_dir, "squad-v1.1", "dev-v1.1.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        articles = json.load(fh)["data"]
    seen: dict[str, str] = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            if paragraph["context"] not in seen:
                seen[paragraph["context"]] = paragraph["qas"][0]["question"]
    return [(q, p) for p, q in list(seen.items())[:limit]]


def timed(compressor: Any, items: list[tuple[str | None, list[str]]], budget: int) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    results = compressor.compress_batch(items, target_tokens=budget)
    return time.perf_counter() - start, results


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    import numpy as np
    import torch

    from contextzip.gist.compressor import DEFAULT_PROJECTOR, GistCompressor
    from contextzip.gist.projector import CONFIG_NAME, GistProjector

    pairs = squad_paragraphs(args.data_dir, args.limit)
    if pairs is None:
        print(f"skipped: no SQuAD v1.1 dev set under {args.data_dir}")
        return None
    trained = os.path.exists(os.path.join(DEFAULT_PROJECTOR, CONFIG_NAME))
    torch.manual_seed(0)
    projector: Any = DEFAULT_PROJECTOR if trained else GistProjector()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="gist-cache-") as folder:
        cold = GistCompressor(projector=projector, cache_dir=folder, device="cpu")
        cold.compress(["Warm-up: load the encoder and the tokenizers."], None, target_tokens=4)
        cold.cache.stats.hits = cold.cache.stats.misses = 0
        items = [(None, [p]) for _, p in pairs]
        t_cold, first = timed(cold, items, args.budget)
        misses = cold.cache.misses
        t_warm, second = timed(cold, items, args.budget)
        hits = cold.cache.hits
        same = all(np.array_equal(a, b) for r1, r2 in zip(first, second, strict=True)
                   for a, b in zip(r1.vectors, r2.vectors, strict=True))
        t_queries, third = timed(cold, [(q, [p]) for q, p in pairs], max(1, args.budget // 4))
        queries_misses = cold.cache.misses - misses
        disk = GistCompressor(projector=projector, cache_dir=folder, device="cpu", encoder=cold.encoder)
        disk.warm_up()
        disk.token_counter.count("load the decoder tokenizer before timing")
        t_disk, fourth = timed(disk, items, args.budget)
    segments = sum(len(r.segments) for r in first)
    load_after = [round(x, 2) for x in os.getloadavg()]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
                   f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        "projector": "packaged (trained)" if trained else "random (seeded; the trained one was absent)",
        "paragraphs": len(pairs), "segments": segments, "budget": args.budget,
        "k": sorted({r.k for r in first if r.k}), "k_other_budget": sorted({r.k for r in third if r.k}),
        "cold_s": round(t_cold, 3), "warm_s": round(t_warm, 3), "other_queries_s": round(t_queries, 3),
        "disk_s": round(t_disk, 3), "speedup_warm": round(t_cold / t_warm, 1),
        "speedup_other_queries": round(t_cold / t_queries, 1), "speedup_disk": round(t_cold / t_disk, 1),
        "cold_misses": misses, "warm_hits": hits, "other_queries_misses": queries_misses,
        "disk_hits": disk.cache.hits, "disk_misses": disk.cache.misses, "identical_vectors": same,
        "load_before": load_before, "load_after": load_after,
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        ("1. cold (empty cache: encode every segment)", r["cold_s"], "reference", f"{r['cold_misses']} misses"),
        ("2. same items again (memory)", r["warm_s"], f"{r['speedup_warm']}x", f"{r['warm_hits']} hits"),
        (f"3. with a question, budget {max(1, r['budget'] // 4)} (k {r['k_other_budget']}; memory)",
         r["other_queries_s"], f"{r['speedup_other_queries']}x", f"{r['other_queries_misses']} misses"),
        ("4. new compressor, same folder (disk)", r["disk_s"], f"{r['speedup_disk']}x",
         f"{r['disk_hits']} hits, {r['disk_misses']} misses"),
    ]
    lines = [
        f"Generated by `benchmarks/gist_cache.py` on {r['date']} ({r['machine']}); 1-minute load average "
        f"{r['load_before'][0]} before, {r['load_after'][0]} after. {r['paragraphs']:,} SQuAD v1.1 dev paragraphs "
        f"({r['segments']:,} segments), one item each, `compress_batch(items, target_tokens={r['budget']})` end to "
        f"end (k {r['k']}); projector: {r['projector']}. Pass 2 returned vectors identical to pass 1: "
        f"{'yes' if r['identical_vectors'] else 'NO'}.",
        "",
        "| pass | seconds | faster than cold | cache |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {name} | {s:.3f} | {x} | {c} |" for name, s, x, c in rows]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    with open(DOC, encoding="utf-8") as fh:
        doc = fh.read()
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} ... {END} block to fill")
    doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", doc, flags=re.S)
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--no-write", action="store_true", help="print only; leave the doc and results alone")
    args = parser.parse_args(argv)
    result = run(args)
    if result is None:
        return 0
    print(json.dumps(result, indent=2))
    print(table(result))
    if not args.no_write:
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
        write_doc(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
