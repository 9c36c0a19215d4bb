"""The retrained model's grid on the TUNE split: answer-span signals and coarse shares, one JSON line per config.

    python training/tune_relevance_spans.py MODEL qg,c2f,span,base [tune] [nq:0.25,hotpotqa:0.1,hotpotqa:0.25]
    ONLY="c2f rr w1 ans1 cs0.12 asw1.0" python training/tune_relevance_spans.py contextzip-relevance span

``qg``: query-guided with the cross-encoder alone or reranking (weight x answer_weight); ``c2f``: coarse-to-fine with
reranking (coarse_share x weight x answer_weight); ``span``: coarse-to-fine's ``answer_span_weight``; ``base``: the
defaults. The report split is never read here (docs/sections/relevance.md has the table and the choice).
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
from contextzip.compressors.cross_encoder import CrossEncoderScorer, CrossEncoderWeights
from contextzip.compressors.pipeline import CoarseToFineCompressor
from contextzip.compressors.query_guided import QueryGuidedCompressor, QueryGuidedScorer
from contextzip.compressors.reranked import RerankedScorer
from contextzip.engine import ScoringEngine
from contextzip.eval.runner import run_eval
from contextzip.models import SentenceEmbedder

model = sys.argv[1]
which = sys.argv[2]
split = sys.argv[3] if len(sys.argv) > 3 else "tune"
sets = [s.split(":") for s in (sys.argv[4] if len(sys.argv) > 4 else "nq:0.25,hotpotqa:0.1,hotpotqa:0.25").split(",")]
engine = ScoringEngine()
emb = SentenceEmbedder("minilm", engine=engine)

def ce(**w):
    return CrossEncoderScorer(model, engine=engine, weights=CrossEncoderWeights(**w))

def rr(top=4, weight=1.0, answer=0.0, **w):
    return RerankedScorer(QueryGuidedScorer(emb), ce(**w), top_documents=top, weight=weight, answer_weight=answer)

configs = {}
if "qg" in which:
    for a in (0.0, 0.5, 1.0):
        configs[f"qg ce doc0.5 ans{a}"] = lambda a=a: QueryGuidedCompressor(embedder=emb, scorer=ce(document=0.5, answer=a))
    for w in (1.0, 2.0):
        for a in (0.0, 0.5, 1.0):
            configs[f"qg rr w{w} ans{a}"] = lambda w=w, a=a: QueryGuidedCompressor(embedder=emb, scorer=rr(weight=w, answer=a))
if "c2f" in which:
    for cs in (0.12, 0.25):
        for w, a in ((1.0, 0.0), (1.0, 1.0), (2.0, 1.0)):
            configs[f"c2f rr w{w} ans{a} cs{cs}"] = lambda w=w, a=a, cs=cs: CoarseToFineCompressor(sentence_scorer=rr(weight=w, answer=a), coarse_share=cs)
if "span" in which:
    for cs in (0.12, 0.25):
        for asw in (0.5, 1.0, 2.0):
            configs[f"c2f rr w1 ans1 cs{cs} asw{asw}"] = lambda asw=asw, cs=cs: CoarseToFineCompressor(sentence_scorer=rr(weight=1.0, answer=1.0), coarse_share=cs, answer_span_weight=asw)
if "base" in which:
    configs["qg default"] = lambda: QueryGuidedCompressor(embedder=emb)
    configs["c2f default"] = lambda: CoarseToFineCompressor()
only = os.environ.get("ONLY")
for name, make in configs.items():
    if only and only not in name:
        continue
    comp = make()
    row = {"config": name}
    t = time.time()
    for ds, rate in sets:
        summary, _ = run_eval(ds, comp, rate=float(rate), split=split)
        row[f"{ds}@{rate}"] = round(summary["answer_retention"], 4)
        assert summary["budget_violations"] == 0
    row["s"] = round(time.time() - t)
    print(json.dumps(row), flush=True)
