"""Where whole clauses cost answers: query-guided with ``windows="phrases"`` against ``windows="clauses"``, request
by request, split by the request's budget (the evidence for ``CLAUSE_BUDGET``, the line of ``windows="auto"``).

Both arms share one embedder with a memory cache, so they differ only in how a sentence too long to keep whole is
cut. NQ runs at rates 0.25 / 0.5 / 0.75 (budgets of ~25-80 tokens), HotpotQA at 0.05 / 0.1 / 0.25 (~65-325).

    python benchmarks/window_modes.py --split tune      # choose the line here
    python benchmarks/window_modes.py --split report    # then check it, once
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import markdown_table, offline_hub_defaults  # noqa: E402

RATES = {"nq": (0.25, 0.5, 0.75), "hotpotqa": (0.05, 0.1, 0.25)}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    parser.add_argument("--line", type=int, default=None, help="the budget line to tabulate (CLAUSE_BUDGET)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    offline_hub_defaults()
    from contextzip.cache import MemoryCache, set_default_cache
    from contextzip.compressors.query_guided import CLAUSE_BUDGET, QueryGuidedCompressor
    from contextzip.engine import ScoringEngine
    from contextzip.eval.metrics import contains_answer
    from contextzip.eval.runner import run_eval
    from contextzip.onnx_embedder import sentence_embedder

    line = CLAUSE_BUDGET if args.line is None else args.line
    set_default_cache(MemoryCache())  # each text is embedded once for both arms and every rate
    embedder = sentence_embedder("minilm", ScoringEngine(), "auto", "auto")
    arms = {w: QueryGuidedCompressor(embedder=embedder, windows=w) for w in ("phrases", "clauses")}
    rows = []
    for dataset, rates in RATES.items():
        for rate in rates:
            for windows, compressor in arms.items():
                summary, records = run_eval(dataset, compressor, rate=rate, data_dir=args.data_dir, split=args.split)
                print(f"{dataset} {rate} {windows}: retention {summary['answer_retention']:.3f}, "
                      f"{summary['budget_violations']} budget violations", file=sys.stderr, flush=True)
                for i, rec in enumerate(records):
                    result = rec.result
                    rows.append({"dataset": dataset, "rate": rate, "windows": windows, "question": i,
                                 "budget": result.target_tokens, "tokens": result.compressed_tokens,
                                 "kept": bool(contains_answer(result.text, rec.example.answers))})
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"window-modes-{args.split}.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f)
    print(table(rows, line))


def table(rows: list[dict], line: int) -> str:
    """Requests, answers kept and outputs under 95% of the budget per arm, under and from ``line`` tokens."""
    counts: collections.Counter = collections.Counter()
    for r in rows:
        key = (r["dataset"], r["budget"] >= line)
        counts[key + (r["windows"], "kept")] += r["kept"]
        counts[key + (r["windows"], "under")] += r["tokens"] < 0.95 * r["budget"]
        counts[key + ("n",)] += r["windows"] == "phrases"
    header = ["data set", "budget", "requests", "answers kept, phrases", "answers kept, clauses",
              "under 95%, phrases", "under 95%, clauses"]
    return markdown_table(header, (
        [dataset, f"{'from' if big else 'under'} {line}", counts[(dataset, big, "n")],
         *(counts[(dataset, big, arm, what)] for what in ("kept", "under") for arm in ("phrases", "clauses"))]
        for dataset in RATES for big in (False, True)))


if __name__ == "__main__":
    main()
