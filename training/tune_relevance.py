"""Choose how ``contextzip-relevance`` is mixed into query-guided and coarse-to-fine, on the TUNE split only.

The model runs once per tune question (its probabilities are cached), then every candidate mix
(:class:`~contextzip.compressors.cross_encoder.CrossEncoderWeights`) is measured with ``run_eval(split="tune")``
on HotpotQA at rates 0.1 and 0.25 and NQ at rate 0.25, and every ``min_relevance`` on NQ with no budget pressure
(rate 1.0: answer retention and kept share). One JSON line per measurement; the report split is never read.

Usage: nice -n 19 env OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python training/tune_relevance.py [--model PATH]
       [--out tune.jsonl]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
from collections.abc import Sequence
from typing import Any

from contextzip.compressors.cross_encoder import CrossEncoderScorer, CrossEncoderWeights, Relevance
from contextzip.compressors.pipeline import CoarseToFineCompressor
from contextzip.compressors.query_guided import QueryGuidedCompressor
from contextzip.eval.runner import run_eval
from contextzip.scorers import Sentences

CELLS = (("hotpotqa", 0.1), ("hotpotqa", 0.25), ("nq", 0.25))
_CACHE: dict[tuple[Any, ...], Relevance] = {}


class CachedScorer(CrossEncoderScorer):
    """A cross-encoder scorer whose model outputs are computed once per (question, sentences)."""

    def probabilities(self, batches: Sequence[Sentences]) -> list[Relevance]:
        def key(b: Sentences) -> tuple[Any, ...]:
            return (b.request.query, b.texts, tuple(d.text for d in b.request.documents))

        todo = [b for b in batches if key(b) not in _CACHE]
        for b, r in zip(todo, super().probabilities(todo), strict=True):
            _CACHE[key(b)] = r
        return [_CACHE[key(b)] for b in batches]


def measure(kind: str, model: str, weights: CrossEncoderWeights, dataset: str, rate: float,
            min_relevance: float | None = None, coarse_share: float = 0.12, limit: int | None = None) -> dict[str, Any]:
    scorer = CachedScorer(model, weights=weights, min_relevance=min_relevance)
    comp = QueryGuidedCompressor(scorer=scorer, min_relevance=min_relevance) if kind == "query-guided" else \
        CoarseToFineCompressor(sentence_scorer=scorer, min_relevance=min_relevance, coarse_share=coarse_share)
    summary, records = run_eval(dataset, comp, rate=rate, split="tune", limit=limit)
    kept = statistics.fmean(r.result.compressed_tokens / max(1, r.result.original_tokens) for r in records)
    return {"compressor": kind, "dataset": dataset, "rate": rate, "weights": weights.__dict__,
            "min_relevance": min_relevance, "coarse_share": coarse_share,
            "answer_retention": round(summary["answer_retention"], 4), "kept_share": round(kept, 4),
            "budget_violations": summary["budget_violations"], "n": summary["n"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="contextzip-relevance")
    parser.add_argument("--out", default="tune_relevance.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="only the first K tune questions (a smoke run)")
    parser.add_argument("--top", type=int, default=3, help="mixes of query-guided also tried in coarse-to-fine")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    grid = [CrossEncoderWeights(document=0.5, bridge=b, lexical=x, answer_type=a, lead=le)
            for b, x, a, le in itertools.product((0.0, 0.5), (0.0, 0.3), (0.0, 0.3), (0.0, 0.2))]
    means: list[tuple[float, CrossEncoderWeights]] = []

    def run(w: CrossEncoderWeights) -> None:
        cells = [measure("query-guided", args.model, w, ds, rate, limit=args.limit) for ds, rate in CELLS]
        for c in cells:
            emit(c)
        means.append((statistics.fmean(c["answer_retention"] for c in cells), w))
        means.sort(key=lambda m: -m[0])

    for w in grid:
        run(w)
    for d in (0.25, 1.0):  # then the document weight, around the best mix
        run(dataclasses.replace(means[0][1], document=d))
    print(json.dumps({"best_query_guided": [(round(m, 4), w.__dict__) for m, w in means[: args.top]]}), flush=True)
    for _, w in means[: args.top]:
        for share in (0.12, 0.25):
            for ds, rate in CELLS:
                emit(measure("coarse-to-fine", args.model, w, ds, rate, coarse_share=share, limit=args.limit))
    best = means[0][1]
    for cut in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
        emit(measure("query-guided", args.model, best, "nq", 1.0, min_relevance=cut, limit=args.limit))


if __name__ == "__main__":
    main()
