"""Retrieval evaluation: nDCG@10 / recall@100 on a BEIR-layout collection (ir-measures), index size and query
latency, and retrieve -> compress answer retention on a pooled HotpotQA corpus."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contextzip.errors import missing_dependency
from contextzip.eval.datasets import default_data_dir
from contextzip.stats import percentile
from contextzip.types import Document

logger = logging.getLogger(__name__)

RETRIEVERS = ("bm25", "dense", "hybrid", "qdrant")
INDEXES = ("flat", "hnsw", "ivfpq", "int8", "binary")
BEIR_DATASETS = ("cranfield",)


@dataclass
class BeirCollection:
    """A BEIR-layout collection: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv`` (graded, higher = better)."""

    corpus: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def beir_folder(dataset: str, data_dir: str | None = None) -> str:
    """``data_dir`` itself when it holds ``corpus.jsonl``, else ``data_dir/dataset`` (``../shared/data`` default)."""
    base = data_dir or default_data_dir()
    folder = base if os.path.isfile(os.path.join(base, "corpus.jsonl")) else os.path.join(base, dataset)
    if not os.path.isfile(os.path.join(folder, "corpus.jsonl")):
        raise FileNotFoundError(f"no BEIR collection at {folder!r} (corpus.jsonl missing; see --data-dir)")
    return folder


def load_beir(folder: str, split: str = "test") -> BeirCollection:
    """Read a BEIR-layout folder; the title is prepended to the text unless the text already starts with it."""
    corpus = []
    with open(os.path.join(folder, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            title, text = (rec.get("title") or "").strip(), rec.get("text") or ""
            full = text if not title or text.startswith(title) else f"{title}. {text}"
            corpus.append(Document(full, str(rec["_id"]), {"title": title}))
    queries = {}
    with open(os.path.join(folder, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                queries[str(rec["_id"])] = rec["text"]
    qrels: dict[str, dict[str, int]] = {}
    path = os.path.join(folder, "qrels", f"{split}.tsv")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and parts[0] == "query-id" or len(parts) < 3:
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {q: t for q, t in queries.items() if q in qrels}
    return BeirCollection(corpus, queries, qrels)


def build_retriever(name: str, index: str = "flat", *, embedder: Any = None, candidates: int = 100) -> Any:
    """A fresh retriever by evaluation name: bm25, dense (with ``index``), hybrid (BM25 + dense, RRF), qdrant."""
    from contextzip.retrievers import BM25Retriever, DenseRetriever, HybridRetriever, QdrantRetriever

    if name not in RETRIEVERS:
        raise ValueError(f"retriever must be one of {list(RETRIEVERS)}, but got {name!r}")
    if index not in INDEXES:
        raise ValueError(f"index must be one of {list(INDEXES)}, but got {index!r}")
    if name == "bm25":
        return BM25Retriever()
    if name == "qdrant":
        return QdrantRetriever(embedder=embedder)
    dense = DenseRetriever(embedder=embedder, index=index)
    if name == "dense":
        return dense
    return HybridRetriever([BM25Retriever(), dense], candidates=candidates)


def _dense_parts(retriever: Any) -> list[Any]:
    from contextzip.retrievers import DenseRetriever, QdrantRetriever

    parts = getattr(retriever, "retrievers", [retriever])
    return [p for p in parts if isinstance(p, (DenseRetriever, QdrantRetriever))]


def index_documents(retriever: Any, documents: list[Document], embeddings: np.ndarray | None = None) -> float:
    """Add ``documents`` (with precomputed embeddings for the dense parts, when given); returns seconds taken."""
    start = time.perf_counter()
    parts = getattr(retriever, "retrievers", [retriever])
    dense = _dense_parts(retriever)
    for part in parts:
        if part in dense:
            part.add(documents, embeddings=embeddings)
        else:
            part.add(documents)
        if hasattr(part, "warm_up"):
            part.warm_up()
    return time.perf_counter() - start


def index_bytes(retriever: Any) -> dict[str, Any]:
    """Bytes of every index part (``index_bytes``), plus ``rescore_bytes`` for a binary index."""
    from contextzip.retrievers import BinaryIndex

    out: dict[str, Any] = {"index_bytes": None}  # None: the index lives elsewhere (Qdrant)
    for part in getattr(retriever, "retrievers", [retriever]):
        if hasattr(part, "index_bytes"):
            out["index_bytes"] = (out["index_bytes"] or 0) + int(part.index_bytes())
        if isinstance(getattr(part, "index", None), BinaryIndex):
            out["rescore_bytes"] = part.index.rescore_nbytes()
    return out


def ir_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10 (graded gains) and recall@100 (relevance >= 1) by ir-measures (trec_eval's definitions)."""
    try:
        import ir_measures
        from ir_measures import R, nDCG
    except ImportError as exc:
        raise missing_dependency("ir-measures", "retrieval") from exc
    scores = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], qrels, run)
    return {"ndcg@10": float(scores[nDCG @ 10]), "recall@100": float(scores[R @ 100])}


def evaluate_beir(retriever: Any, collection: BeirCollection, *, embeddings: np.ndarray | None = None,
                  k: int = 100, limit: int | None = None) -> dict[str, Any]:
    """Index the corpus, run every query one at a time (latency) and all at once (batched), score the run."""
    build_s = index_documents(retriever, collection.corpus, embeddings)
    qids = list(collection.queries)[:limit]
    texts = [collection.queries[q] for q in qids]
    retriever.search_batch(texts[:2], k)  # warm-up: model and caches
    single_ms = []
    for text in texts:
        start = time.perf_counter()
        retriever.search(text, k)
        single_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    hits = retriever.search_batch(texts, k)
    batch_ms = (time.perf_counter() - start) * 1000
    # ties broken by rank: trec_eval sorts by score, so hand it strictly decreasing scores
    run = {q: {h.document.id: float(len(hs) - r) for r, h in enumerate(hs)} for q, hs in zip(qids, hits, strict=True)}
    qrels = {q: collection.qrels[q] for q in qids}
    return {
        **ir_metrics(qrels, run),
        **index_bytes(retriever),
        "p50_ms": percentile(single_ms, 0.5),
        "p95_ms": percentile(single_ms, 0.95),
        "batch_ms_per_query": batch_ms / max(1, len(texts)),
        "build_s": build_s,
        "documents": len(collection.corpus),
        "queries": len(qids),
    }


def encode_corpus(documents: Sequence[Document], embedder: Any, show_progress_bar: bool = False) -> np.ndarray:
    return embedder.encode([d.text for d in documents], show_progress_bar=show_progress_bar)


def run_retrieval_eval(dataset: str, retriever: str, index: str = "flat", *, data_dir: str | None = None,
                       limit: int | None = None, show_progress_bar: bool = False) -> dict[str, Any]:
    """The ``contextzip eval-retrieval`` summary for one retriever (and index type) on a BEIR collection."""
    from contextzip.models import SentenceEmbedder

    collection = load_beir(beir_folder(dataset, data_dir))
    embedder = SentenceEmbedder() if retriever != "bm25" else None
    model = build_retriever(retriever, index, embedder=embedder)
    embeddings = None
    if embedder is not None:
        start = time.perf_counter()
        embeddings = encode_corpus(collection.corpus, embedder, show_progress_bar)
        logger.info("embedded %d documents in %.1f s", len(collection.corpus), time.perf_counter() - start)
    summary = evaluate_beir(model, collection, embeddings=embeddings, limit=limit)
    return {"dataset": dataset, "retriever": retriever, "index": index if retriever in ("dense", "hybrid") else None,
            **summary}


# --- retrieve -> compress on pooled HotpotQA ------------------------------------------------------------------


def pooled_hotpotqa(data_dir: str | None = None, limit: int | None = None) -> tuple[list[Any], list[Document]]:
    """The HotpotQA questions and one corpus of all their paragraphs (deduplicated by title and text)."""
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("hotpotqa", data_dir, limit=limit)
    corpus: dict[tuple[str, str], Document] = {}
    for ex in examples:
        for d in ex.documents:
            key = (d.metadata.get("title", ""), d.text)
            if key not in corpus:
                corpus[key] = Document(d.text, f"p{len(corpus)}", {"title": key[0]})
    return examples, list(corpus.values())


def evaluate_pooled_hotpotqa(retriever: Any, examples: list[Any], corpus: list[Document], *,
                             compressor: Any = "query-guided", target_tokens: int = 300, k: int = 10,
                             embeddings: np.ndarray | None = None) -> dict[str, Any]:
    """Retrieve ``k`` paragraphs per question from the pooled corpus and compress them to ``target_tokens``.

    ``answer_retention``: share of answerable questions (yes/no excluded) whose gold answer is in the compressed
    context; ``retrieved_answer_rate``: the same in the full retrieved paragraphs (the ceiling compression can
    keep); ``supporting_recall``: share of the gold supporting paragraphs retrieved.
    """
    from contextzip.eval.metrics import contains_answer
    from contextzip.retrievers import CompressingRetriever

    index_documents(retriever, corpus, embeddings)
    zipper = CompressingRetriever(retriever, compressor, target_tokens=target_tokens, k=k)
    start = time.perf_counter()
    results = zipper.batch([ex.question for ex in examples])
    total_s = time.perf_counter() - start
    answerable = [(ex, r) for ex, r in zip(examples, results, strict=True) if ex.answers and not ex.skip_answer]
    kept = sum(contains_answer(r.text, ex.answers) for ex, r in answerable)
    retrieved = sum(contains_answer("\n\n".join(h.document.text for h in r.hits), ex.answers) for ex, r in answerable)
    gold, found = 0, 0
    for ex, r in zip(examples, results, strict=True):
        supporting = {d.text for d in ex.documents if d.id in set(ex.supporting)}
        hit_texts = {h.document.text for h in r.hits}
        gold += len(supporting)
        found += len(supporting & hit_texts)
    tokens = [r.compression.compressed_tokens for r in results]
    return {
        "questions": len(examples),
        "answerable": len(answerable),
        "documents": len(corpus),
        "k": k,
        "target_tokens": target_tokens,
        "answer_retention": kept / max(1, len(answerable)),
        "retrieved_answer_rate": retrieved / max(1, len(answerable)),
        "supporting_recall": found / max(1, gold),
        "mean_compressed_tokens": float(np.mean(tokens)) if tokens else 0.0,
        "budget_violations": sum(t > target_tokens for t in tokens),
        "ms_per_query": total_s * 1000 / max(1, len(examples)),
    }


def run_pooled_eval(retriever: str, index: str = "flat", *, compressor: str = "query-guided",
                    target_tokens: int = 300, k: int = 10, data_dir: str | None = None,
                    limit: int | None = None) -> dict[str, Any]:
    """The ``contextzip eval-retrieval --dataset hotpotqa`` summary for one retriever."""
    from contextzip.api import resolve_compressor
    from contextzip.models import SentenceEmbedder

    examples, corpus = pooled_hotpotqa(data_dir, limit)
    compressor_obj = resolve_compressor(compressor)
    embedder = (getattr(compressor_obj, "embedder", None) or SentenceEmbedder()) if retriever != "bm25" else None
    model = build_retriever(retriever, index, embedder=embedder)
    embeddings = encode_corpus(corpus, embedder) if embedder is not None else None
    summary = evaluate_pooled_hotpotqa(model, examples, corpus, compressor=compressor_obj,
                                       target_tokens=target_tokens, k=k, embeddings=embeddings)
    return {"dataset": "hotpotqa-pooled", "retriever": retriever,
            "index": index if retriever in ("dense", "hybrid") else None, "compressor": compressor, **summary}
