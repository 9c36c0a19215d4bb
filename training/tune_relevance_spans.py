"""The retrained model's grid on the TUNE split: answer-span signals and coarse shares, one JSON line per config.

    python training/tune_relevance_spans.py MODEL qg,c2f,span,base [--split tune] [--sets nq:0.25,hotpotqa:0.1,hotpotqa:0.25]
    python training/tune_relevance_spans.py contextzip-relevance span --only "c2f rr w1 ans1 cs0.12 asw1.0"

``qg``: query-guided with the cross-encoder alone or reranking (weight x answer_weight); ``c2f``: coarse-to-fine with
reranking (coarse_share x weight x answer_weight); ``span``: coarse-to-fine's ``answer_span_weight``; ``base``: the
defaults. The report split is never read here (docs/sections/relevance.md has the table and the choice). The grid
recorded there ran on the torch MiniLM (``--backend torch``, the default here, reproduces it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any


def configs(model: str, which: str, backend: str) -> dict[str, Callable[[], Any]]:
    """Every configuration of the grids named in ``which``, by name, as a function that builds the compressor."""
    from contextzip.compressors.cross_encoder import CrossEncoderScorer, CrossEncoderWeights
    from contextzip.compressors.pipeline import CoarseToFineCompressor
    from contextzip.compressors.query_guided import QueryGuidedCompressor, QueryGuidedScorer
    from contextzip.compressors.reranked import RerankedScorer
    from contextzip.engine import ScoringEngine
    from contextzip.onnx_embedder import sentence_embedder

    engine = ScoringEngine()
    emb = sentence_embedder("minilm", engine, backend)

    def ce(**w: float) -> CrossEncoderScorer:
        return CrossEncoderScorer(model, engine=engine, weights=CrossEncoderWeights(**w))

    def rr(top: int = 4, weight: float = 1.0, answer: float = 0.0, **w: float) -> RerankedScorer:
        return RerankedScorer(QueryGuidedScorer(emb), ce(**w), top_documents=top, weight=weight, answer_weight=answer)

    out: dict[str, Callable[[], Any]] = {}
    if "qg" in which:
        for a in (0.0, 0.5, 1.0):
            out[f"qg ce doc0.5 ans{a}"] = lambda a=a: QueryGuidedCompressor(embedder=emb,
                                                                            scorer=ce(document=0.5, answer=a))
        for w in (1.0, 2.0):
            for a in (0.0, 0.5, 1.0):
                out[f"qg rr w{w} ans{a}"] = lambda w=w, a=a: QueryGuidedCompressor(embedder=emb,
                                                                                  scorer=rr(weight=w, answer=a))
    if "c2f" in which:
        for cs in (0.12, 0.25):
            for w, a in ((1.0, 0.0), (1.0, 1.0), (2.0, 1.0)):
                out[f"c2f rr w{w} ans{a} cs{cs}"] = lambda w=w, a=a, cs=cs: CoarseToFineCompressor(
                    sentence_scorer=rr(weight=w, answer=a), coarse_share=cs)
    if "span" in which:
        for cs in (0.12, 0.25):
            for asw in (0.5, 1.0, 2.0):
                out[f"c2f rr w1 ans1 cs{cs} asw{asw}"] = lambda asw=asw, cs=cs: CoarseToFineCompressor(
                    sentence_scorer=rr(weight=1.0, answer=1.0), coarse_share=cs, answer_span_weight=asw)
    if "base" in which:
        out["qg default"] = lambda: QueryGuidedCompressor(embedder=emb)
        out["c2f default"] = lambda: CoarseToFineCompressor(backend=backend)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the cross-encoder: a name (contextzip-relevance) or a path")
    parser.add_argument("which", help="grids to run, comma-separated: qg, c2f, span, base")
    parser.add_argument("--split", default="tune", choices=["tune", "report", "all"])
    parser.add_argument("--sets", default="nq:0.25,hotpotqa:0.1,hotpotqa:0.25", help="dataset:rate,...")
    parser.add_argument("--only", default=os.environ.get("ONLY"), help="run only configs whose name contains it")
    parser.add_argument("--backend", default="torch", choices=["auto", "torch", "onnx"],
                        help="the MiniLM of the dense scorer [torch: as the recorded grid]")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from contextzip.eval.runner import run_eval

    sets = [s.split(":") for s in args.sets.split(",")]
    for name, make in configs(args.model, args.which, args.backend).items():
        if args.only and args.only not in name:
            continue
        comp = make()
        row: dict[str, Any] = {"config": name}
        start = time.time()
        for dataset, rate in sets:
            summary, _ = run_eval(dataset, comp, rate=float(rate), split=args.split)
            if summary["budget_violations"]:
                raise SystemExit(f"{name}: {summary['budget_violations']} budget violations on {dataset}@{rate}")
            row[f"{dataset}@{rate}"] = round(summary["answer_retention"], 4)
        row["s"] = round(time.time() - start)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
