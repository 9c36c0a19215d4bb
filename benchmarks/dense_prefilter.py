"""Query-guided with and without the static first stage of its dense signal, side by side in one run: answer
retention, latency per question and MiniLM word pieces embedded per request.

Both arms share one MiniLM (ONNX Runtime, the CPU default) and no output cache. Each question is compressed by
both arms back to back, their order alternating, so load drift falls on both alike. Run it on a quiet machine
(load average under 1) for the latency columns; retention does not depend on load.

    python benchmarks/dense_prefilter.py --split tune --dense-tokens 256 384 512   # choose here
    python benchmarks/dense_prefilter.py --split report                            # then check, once
    python benchmarks/dense_prefilter.py --split all --datasets hotpotqa           # the p50 over all 300
    python benchmarks/dense_prefilter.py --split all --datasets squad --limit 500  # a set nothing was tuned on
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import markdown_table, offline_hub_defaults  # noqa: E402

RATES = {"hotpotqa": (0.5, 0.25, 0.1), "nq": (0.25,), "squad": (0.25, 0.1)}
DEFAULT_DATASETS = ["hotpotqa", "nq"]
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class CountingEmbedder:
    """The shared dense model, counting the word pieces it embeds (MiniLM's tokenizer, as the model reads them)."""

    def __init__(self, embedder, static) -> None:  # type: ignore[no-untyped-def]
        self.embedder, self.static, self.tokens = embedder, static, 0

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def encode(self, texts, show_progress_bar=None):  # type: ignore[no-untyped-def]
        self.tokens += int(self.static.count_tokens(list(texts)).sum())
        return self.embedder.encode(texts, show_progress_bar)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "report", "all"), default="tune")
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(RATES),
                        help="squad: each question with 9 distractor paragraphs, a set no default was tuned on")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions of the split")
    parser.add_argument("--dense-tokens", nargs="+", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    offline_hub_defaults()
    from contextzip.compressors.query_guided import DENSE_TOKENS, QueryGuidedCompressor
    from contextzip.engine import ScoringEngine
    from contextzip.eval.datasets import load_dataset
    from contextzip.eval.metrics import contains_answer
    from contextzip.onnx_embedder import sentence_embedder
    from contextzip.static_embedder import StaticEmbedder
    from contextzip.stats import percentile

    static = StaticEmbedder()
    minilm = sentence_embedder("minilm", ScoringEngine(), "auto", "auto")
    arms = {"MiniLM on every sentence": (None, 0)}
    for n in args.dense_tokens or [DENSE_TOKENS]:
        arms[f"static first stage, dense_tokens={n}"] = (static, n)
    compressors = {}
    for name, (prefilter, n) in arms.items():
        counting = CountingEmbedder(minilm, static)
        compressors[name] = (QueryGuidedCompressor(embedder=counting, prefilter=prefilter, dense_tokens=n or 1),
                             counting)
    rows = []
    load = os.getloadavg()[0]
    for dataset in args.datasets:
        examples = load_dataset(dataset, args.data_dir, split=args.split)[:args.limit]
        for rate in RATES[dataset]:
            for compressor, _ in compressors.values():  # warm up: the ONNX export / load, first calls
                for ex in examples[:2]:
                    compressor.compress(ex.documents, ex.question, rate=rate)
            stats = {name: {"ms": [], "kept": [], "tokens": [], "violations": 0} for name in arms}
            names = list(arms)
            for i, ex in enumerate(examples):
                for name in names if i % 2 == 0 else names[::-1]:
                    compressor, counting = compressors[name]
                    before = counting.tokens
                    start = time.perf_counter()
                    result = compressor.compress(ex.documents, ex.question, rate=rate)
                    stats[name]["ms"].append((time.perf_counter() - start) * 1000)
                    stats[name]["tokens"].append(counting.tokens - before)
                    stats[name]["violations"] += result.compressed_tokens > result.target_tokens
                    if ex.answers and not ex.skip_answer:
                        stats[name]["kept"].append(bool(contains_answer(result.text, ex.answers)))
            for name, s in stats.items():
                row = {"dataset": dataset, "split": args.split, "rate": rate, "arm": name, "n": len(examples),
                       "answers_kept": sum(s["kept"]), "answerable": len(s["kept"]),
                       "retention": statistics.fmean(s["kept"]) if s["kept"] else None,
                       "p50_ms": percentile(s["ms"], 0.5), "p95_ms": percentile(s["ms"], 0.95),
                       "minilm_tokens_per_request": statistics.fmean(s["tokens"]),
                       "budget_violations": s["violations"], "load_before": load}
                rows.append(row)
                print(f"{dataset} {rate} {name}: retention {row['retention']:.3f} ({row['answers_kept']}), "
                      f"p50 {row['p50_ms']:.1f} ms, {row['minilm_tokens_per_request']:.0f} MiniLM tokens",
                      file=sys.stderr, flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    name = f"dense-prefilter-{args.split}" + ("" if args.datasets == DEFAULT_DATASETS else "-" + "-".join(args.datasets))
    with open(os.path.join(RESULTS, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    print(table(rows))


def table(rows: list[dict]) -> str:
    return markdown_table(
        ["data set", "split", "rate", "arm", "answers kept", "retention", "p50 ms", "p95 ms", "MiniLM tokens / request"],
        ([r["dataset"], r["split"], r["rate"], r["arm"], f"{r['answers_kept']} of {r['answerable']}",
          f"{r['retention']:.3f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['minilm_tokens_per_request']:.0f}"]
         for r in rows))

if __name__ == "__main__":
    main()
