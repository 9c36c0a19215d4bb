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
import itertools
import json
import statistics
from collections.abc import Sequence
from typing import Any

from contextzip.compressors.cross_encoder import CrossEncoderScorer, CrossEncoderWeights, Relevance
from contextzip.compressors.pipeline import CoarseToFineCompressor
from contextzip.compressors.query_guided import QueryGuidedCompressor, QueryGuidedScorer
from contextzip.compressors.reranked import RerankedScorer
from contextzip.eval.runner import run_eval
from contextzip.models import SentenceEmbedder
from contextzip.scorers import Scored, Sentences

CELLS = (("hotpotqa", 0.1), ("hotpotqa", 0.25), ("nq", 0.25))
_CACHE: dict[tuple[Any, ...], Any] = {}


def _key(kind: str, b: Sentences) -> tuple[Any, ...]:
    return (kind, b.request.query, b.texts, tuple(d.text for d in b.request.documents))


class CachedScorer(CrossEncoderScorer):
    """A cross-encoder scorer whose model outputs are computed once per (question, sentences)."""

    def probabilities(self, batches: Sequence[Sentences]) -> list[Relevance]:
        todo = [b for b in batches if _key("ce", b) not in _CACHE]
        for b, r in zip(todo, super().probabilities(todo), strict=True):
            _CACHE[_key("ce", b)] = r
        return [_CACHE[_key("ce", b)] for b in batches]


class CachedBase:
    """Today's query-guided scorer (dense + BM25 + priors), computed once per request."""

    def __init__(self) -> None:
        self.inner = QueryGuidedScorer(SentenceEmbedder("minilm"))

    def warm_up(self) -> None:
        self.inner.warm_up()

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        todo = [b for b in batches if _key("qg", b) not in _CACHE]
        for b, r in zip(todo, self.inner.score_sentences(todo), strict=True):
            _CACHE[_key("qg", b)] = r
        return [_CACHE[_key("qg", b)] for b in batches]


_BASE = CachedBase()


def measure(kind: str, model: str, dataset: str, rate: float, *, weights: CrossEncoderWeights | None = None,
            top_documents: int | None = None, weight: float = 1.0, min_relevance: float | None = None,
            coarse_share: float = 0.12, limit: int | None = None) -> dict[str, Any]:
    """One tune-split cell: the cross-encoder alone (``top_documents=None``, mixed by ``weights``) or reranking
    today's query-guided ranking's ``top_documents`` best documents with ``weight``."""
    cross = CachedScorer(model, weights=weights, min_relevance=None if top_documents else min_relevance)
    scorer: Any = cross if top_documents is None else RerankedScorer(
        _BASE, cross, top_documents=top_documents, weight=weight, min_relevance=min_relevance)
    comp = QueryGuidedCompressor(scorer=scorer) if kind == "query-guided" else \
        CoarseToFineCompressor(sentence_scorer=scorer, coarse_share=coarse_share)
    if min_relevance is not None:  # as the compressors do with min_relevance: cut within the budget too
        comp.compresses_within_budget = True
        comp.min_relevance = min_relevance
    summary, records = run_eval(dataset, comp, rate=rate, split="tune", limit=limit)
    kept = statistics.fmean(r.result.compressed_tokens / max(1, r.result.original_tokens) for r in records)
    return {"compressor": kind, "dataset": dataset, "rate": rate, "top_documents": top_documents, "weight": weight,
            "weights": weights.__dict__ if weights else None, "min_relevance": min_relevance,
            "coarse_share": coarse_share, "answer_retention": round(summary["answer_retention"], 4),
            "kept_share": round(kept, 4), "budget_violations": summary["budget_violations"], "n": summary["n"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="contextzip-relevance")
    parser.add_argument("--out", default="tune_relevance.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="only the first K tune questions (a smoke run)")
    args = parser.parse_args(argv)

    def emit(row: dict[str, Any]) -> dict[str, Any]:
        print(json.dumps(row), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        return row

    def cells(kind: str, **kw: Any) -> float:
        return statistics.fmean(emit(measure(kind, args.model, ds, rate, limit=args.limit, **kw))["answer_retention"]
                                for ds, rate in CELLS)

    # the cross-encoder alone (two mixes), then reranking today's ranking: shortlist size x weight
    results: list[tuple[float, dict[str, Any]]] = []
    for w in (CrossEncoderWeights(), CrossEncoderWeights(document=0.5, bridge=0.5, lexical=0.3, lead=0.2)):
        results.append((cells("query-guided", weights=w), {"weights": w}))
    for top, weight in itertools.product((2, 3, 4), (0.5, 1.0, 2.0)):
        results.append((cells("query-guided", top_documents=top, weight=weight),
                        {"top_documents": top, "weight": weight}))
    results.sort(key=lambda r: -r[0])
    print(json.dumps({"best_query_guided": [(round(m, 4), str(c)) for m, c in results[:3]]}), flush=True)
    best = results[0][1]
    for share in (0.12, 0.25):
        cells("coarse-to-fine", coarse_share=share, **best)
    for cut in (0.05, 0.1, 0.2, 0.3, 0.5):
        emit(measure("query-guided", args.model, "nq", 1.0, min_relevance=cut, limit=args.limit, **best))


if __name__ == "__main__":
    main()
