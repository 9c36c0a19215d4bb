"""Hybrid retrieval: fuse the rankings of several retrievers (lexical + dense, usually) into one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from contextzip.compressors.base import DocumentsInput
from contextzip.retrievers.base import (
    BaseRetriever,
    MetadataFilter,
    Retriever,
    SearchHit,
    read_config,
    with_ids,
    write_config,
)
from contextzip.types import Document


class Fusion(Protocol):
    """Turns one ranking per retriever into one fused ranking, best first."""

    def fuse(self, rankings: Sequence[Sequence[SearchHit]]) -> list[SearchHit]: ...

    def config(self) -> dict[str, Any]: ...


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ValueError(f"got {len(weights)} weights for {n} rankings")
    return [float(w) for w in weights]


def _check_weights(weights: Sequence[float] | None) -> list[float] | None:
    if weights is None:
        return None
    out = [float(w) for w in weights]
    if not out or any(w < 0 for w in out) or not any(out):
        raise ValueError(f"weights must be non-negative and not all zero, but got {list(weights)!r}")
    return out


def _collect(rankings: Sequence[Sequence[SearchHit]], contribution: Any) -> list[SearchHit]:
    scores: dict[str, float] = {}
    docs: dict[str, Document] = {}
    for r, ranking in enumerate(rankings):
        for rank, hit in enumerate(ranking, 1):
            key = hit.document.id or hit.document.text
            docs.setdefault(key, hit.document)
            scores[key] = scores.get(key, 0.0) + contribution(r, rank, hit, ranking)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: ties keep first-seen order
    return [SearchHit(docs[key], scores[key]) for key in order]


class ReciprocalRankFusion:
    """Reciprocal rank fusion (Cormack et al., 2009): ``score(d) = sum_r w_r / (k + rank_r(d))``.

    Only ranks count, so retrievers with incomparable score scales fuse without tuning.

    Args:
        k: the rank offset (60 in the paper); larger flattens the advantage of the very top ranks.
        weights: one weight per retriever (all 1 by default).
    """

    def __init__(self, k: float = 60.0, weights: Sequence[float] | None = None) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0, but got {k}")
        self.k = float(k)
        self.weights = _check_weights(weights)

    def config(self) -> dict[str, Any]:
        return {"fusion": "rrf", "k": self.k, "weights": self.weights}

    def fuse(self, rankings: Sequence[Sequence[SearchHit]]) -> list[SearchHit]:
        w = _weights(self.weights, len(rankings))
        return _collect(rankings, lambda r, rank, hit, ranking: w[r] / (self.k + rank))


class WeightedScoreFusion:
    """Weighted sum of min-max normalised scores (convex combination): ``score(d) = sum_r w_r * norm_r(d)``.

    Each ranking's scores are scaled to [0, 1] over its own candidates; a document a retriever did not return
    gets 0 from it. Sensitive to the weights, which RRF does not need.

    Args:
        weights: one weight per retriever (all 1 by default).
    """

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        self.weights = _check_weights(weights)

    def config(self) -> dict[str, Any]:
        return {"fusion": "weighted", "weights": self.weights}

    def fuse(self, rankings: Sequence[Sequence[SearchHit]]) -> list[SearchHit]:
        w = _weights(self.weights, len(rankings))
        bounds = [(min((h.score for h in ranking), default=0.0), max((h.score for h in ranking), default=0.0))
                  for ranking in rankings]

        def contribution(r: int, rank: int, hit: SearchHit, ranking: Sequence[SearchHit]) -> float:
            lo, hi = bounds[r]
            return w[r] * ((hit.score - lo) / (hi - lo) if hi > lo else 1.0)

        return _collect(rankings, contribution)


def make_fusion(config: dict[str, Any]) -> Fusion:
    kind = config.get("fusion")
    if kind == "rrf":
        return ReciprocalRankFusion(config.get("k", 60.0), config.get("weights"))
    if kind == "weighted":
        return WeightedScoreFusion(config.get("weights"))
    raise ValueError(f"fusion must be 'rrf' or 'weighted', but got {kind!r}")


class HybridRetriever(BaseRetriever):
    """Search several retrievers and fuse their rankings (reciprocal rank fusion by default).

    Args:
        retrievers: any objects with ``search_batch(queries, k, filter=...)`` (BM25, dense, Qdrant, ...).
        fusion: :class:`ReciprocalRankFusion` (default) or :class:`WeightedScoreFusion`, or any :class:`Fusion`.
        candidates: how many hits to take from each retriever before fusing (at least the ``k`` asked for).

    :meth:`add`, :meth:`update` and :meth:`delete` go to every retriever, so their document sets stay equal.

    Example:
        >>> hybrid = HybridRetriever([BM25Retriever(), DenseRetriever()])
        >>> hybrid.add(["Paris is the capital of France.", "Bananas are yellow."])
        ['0', '1']
    """

    def __init__(self, retrievers: Sequence[Retriever], *, fusion: Fusion | None = None,
                 candidates: int = 100) -> None:
        retrievers = list(retrievers)
        if not retrievers:
            raise ValueError("retrievers must hold at least one retriever, but got none")
        for n, r in enumerate(retrievers):
            if not callable(getattr(r, "search_batch", None)):
                raise TypeError(f"retriever {n} ({type(r).__name__}) has no search_batch(queries, k, filter=...)")
        if not isinstance(candidates, int) or candidates <= 0:
            raise ValueError(f"candidates must be a positive int, but got {candidates!r}")
        self.retrievers = retrievers
        self.fusion = fusion or ReciprocalRankFusion()
        self.candidates = candidates

    def __len__(self) -> int:
        """Documents in the largest retriever that can tell (0 when none can)."""
        return max((len(r) for r in self.retrievers if hasattr(r, "__len__")), default=0)  # type: ignore[arg-type]

    def _is_empty(self) -> bool:
        return all(hasattr(r, "__len__") and len(r) == 0 for r in self.retrievers)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"HybridRetriever({self.retrievers!r}, fusion={self.fusion.config()!r}, candidates={self.candidates})"

    def _search_batch(self, queries: list[str], k: int, filter: MetadataFilter | None) -> list[list[SearchHit]]:
        n = max(k, self.candidates)
        per_retriever = [r.search_batch(queries, n, filter=filter) for r in self.retrievers]
        return [self.fusion.fuse([hits[q] for hits in per_retriever])[:k] for q in range(len(queries))]

    def _each(self, method: str, *args: Any) -> list[Any]:
        missing = [type(r).__name__ for r in self.retrievers if not callable(getattr(r, method, None))]
        if missing:
            raise TypeError(f"{method}() is not supported by {missing}")
        return [getattr(r, method)(*args) for r in self.retrievers]

    def add(self, documents: DocumentsInput) -> list[str]:
        """Add documents to every retriever; returns their ids (equal across retrievers)."""
        first = self.retrievers[0]
        docs = with_ids(documents, lambda i: i in first, len(first))  # type: ignore[operator,arg-type]
        return self._each("add", docs)[0]

    def update(self, documents: DocumentsInput) -> list[str]:
        return self._each("update", documents)[0]

    def delete(self, ids: str | Iterable[str]) -> int:
        return max(self._each("delete", ids))

    def save(self, folder: str) -> None:
        """Save every retriever into a sub-folder and the fusion settings next to them."""
        for n, r in enumerate(self._each_saveable()):
            r.save(os.path.join(folder, str(n)))
        write_config(folder, {"retriever": "hybrid", "count": len(self.retrievers), "candidates": self.candidates,
                              **self.fusion.config()})

    def _each_saveable(self) -> list[Any]:
        missing = [type(r).__name__ for r in self.retrievers if not callable(getattr(r, "save", None))]
        if missing:
            raise TypeError(f"save() is not supported by {missing}")
        return self.retrievers

    @classmethod
    def load(cls, folder: str, **kwargs: Any) -> HybridRetriever:
        """Load what :meth:`save` wrote; ``kwargs`` (e.g. ``embedder=``) go to the dense retrievers."""
        config = read_config(folder)
        retrievers = [load_retriever(os.path.join(folder, str(n)), **kwargs) for n in range(config["count"])]
        return cls(retrievers, fusion=make_fusion(config), candidates=config["candidates"])


def load_retriever(folder: str, **kwargs: Any) -> Any:
    """Load any saved retriever (BM25, dense or hybrid) from the ``retriever`` field of its config."""
    from contextzip.retrievers.bm25 import BM25Retriever
    from contextzip.retrievers.dense import DenseRetriever

    kind = read_config(folder).get("retriever", "dense")
    if kind == "bm25":
        return BM25Retriever.load(folder)
    if kind == "dense":
        return DenseRetriever.load(folder, **kwargs)
    if kind == "hybrid":
        return HybridRetriever.load(folder, **kwargs)
    raise ValueError(f"{folder}: unknown retriever type {kind!r}")
