"""p50 latency of query-guided and coarse-to-fine with and without the relevance model's rerank, interleaved
question by question (HotpotQA report split, rate 0.25), as ratios to today's query-guided in the same run (and
to query-guided on torch, the CPU default before the ONNX embedder); the rerank arms also with their
cross-encoder on torch (the default on a CPU without ONNX Runtime, or one with native bf16).

    python benchmarks/relevance_latency.py [--questions 60] [--rounds 2]     # on a quiet machine
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import load, offline_hub_defaults  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    offline_hub_defaults()
    from contextzip.compressors.cross_encoder import CrossEncoderScorer
    from contextzip.compressors.pipeline import CoarseToFineCompressor
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.compressors.reranked import RerankedScorer
    from contextzip.eval.datasets import load_dataset

    def reranked_on_torch() -> RerankedScorer:  # the same scorer as rerank=, its cross-encoder on torch
        return RerankedScorer(QueryGuidedCompressor().scorer, CrossEncoderScorer(backend="torch"))

    examples = load_dataset("hotpotqa", None, None, "report")[: args.questions]
    arms = {"query-guided today": QueryGuidedCompressor(),
            "query-guided on torch (the default when the issue was written)": QueryGuidedCompressor(backend="torch"),
            "query-guided rerank": QueryGuidedCompressor(rerank="contextzip-relevance"),
            "coarse-to-fine today": CoarseToFineCompressor(),
            "coarse-to-fine rerank": CoarseToFineCompressor(rerank="contextzip-relevance"),
            "query-guided rerank, cross-encoder on torch": QueryGuidedCompressor(scorer=reranked_on_torch()),
            "coarse-to-fine rerank, cross-encoder on torch": CoarseToFineCompressor(sentence_scorer=reranked_on_torch())}
    for comp in arms.values():
        for ex in examples[:3]:
            comp.compress(ex.documents, ex.question, rate=0.25)
    print("load before", load())
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for ex in examples:
            for name, comp in arms.items():
                start = time.perf_counter()
                comp.compress(ex.documents, ex.question, rate=0.25)
                times[name].append((time.perf_counter() - start) * 1000)
    base = statistics.median(times["query-guided today"])
    torch_base = statistics.median(times["query-guided on torch (the default when the issue was written)"])
    for name, values in times.items():
        p50 = statistics.median(values)
        print(f"{name}: p50 {p50:.1f} ms ({p50 / base:.2f}x query-guided today, {p50 / torch_base:.2f}x on torch)")
    print("load after", load())


if __name__ == "__main__":
    main()
