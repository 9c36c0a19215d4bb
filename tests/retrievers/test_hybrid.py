from __future__ import annotations

import pytest

from contextzip.retrievers import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    ReciprocalRankFusion,
    SearchHit,
    WeightedScoreFusion,
    load_retriever,
)
from contextzip.types import Document


class Fixed:
    """A retriever that always returns the same ranking."""

    def __init__(self, ranking):
        self.ranking = [SearchHit(Document(f"text {i}", i), s) for i, s in ranking]

    def search_batch(self, queries, k, *, filter=None):
        return [self.ranking[:k] for _ in queries]


A = Fixed([("a", 10.0), ("b", 5.0), ("c", 0.0)])
B = Fixed([("c", 0.9), ("a", 0.5), ("d", 0.1)])


def _ids_scores(hits):
    return [(h.document.id, round(h.score, 6)) for h in hits]


def test_reciprocal_rank_fusion_by_hand():
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
    hits = HybridRetriever([A, B]).search("q", k=4)
    assert _ids_scores(hits) == [("a", 0.032522), ("c", 0.032266), ("b", 0.016129), ("d", 0.015873)]
    # weights 1 and 3: c = 1/63 + 3/61 = 0.065053 now beats a = 1/61 + 3/62 = 0.064781
    hits = HybridRetriever([A, B], fusion=ReciprocalRankFusion(weights=[1, 3])).search("q", k=2)
    assert _ids_scores(hits) == [("c", 0.065053), ("a", 0.064781)]
    assert [h.document.id for h in HybridRetriever([A, B], fusion=ReciprocalRankFusion(k=0)).search("q", k=4)] == [
        "a", "c", "b", "d"]


def test_weighted_score_fusion_by_hand():
    # min-max: A -> a 1, b 0.5, c 0; B -> c 1, a 0.5, d 0
    hits = HybridRetriever([A, B], fusion=WeightedScoreFusion()).search("q", k=4)
    assert _ids_scores(hits) == [("a", 1.5), ("c", 1.0), ("b", 0.5), ("d", 0.0)]
    hits = HybridRetriever([A, B], fusion=WeightedScoreFusion(weights=[1, 3])).search("q", k=2)
    assert _ids_scores(hits) == [("c", 3.0), ("a", 2.5)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        HybridRetriever([])
    with pytest.raises(TypeError, match="search_batch"):
        HybridRetriever([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="weights"):
        ReciprocalRankFusion(weights=[0, 0])
    with pytest.raises(ValueError, match="2 weights for 3"):
        HybridRetriever([A, B, A], fusion=WeightedScoreFusion(weights=[1, 2])).search("q")


def test_hybrid_keeps_retrievers_in_step_and_round_trips(embedder, corpus, tmp_path):
    hybrid = HybridRetriever([BM25Retriever(), DenseRetriever(embedder=embedder)], candidates=4)
    assert hybrid.add(corpus + ["no id here"]) == [d.id for d in corpus] + ["6"]
    assert all(len(r) == 7 for r in hybrid.retrievers)
    assert hybrid.search("capital of France", k=1)[0].document.id == "paris"
    assert [h.document.id for h in hybrid.search("capital", k=5, filter={"lang": "de"})] == ["berlin"]
    assert hybrid.delete("paris") == 1 and all("paris" not in r for r in hybrid.retrievers)
    hybrid.update(Document("Madrid is in Spain.", "madrid"))
    hybrid.save(str(tmp_path))
    loaded = load_retriever(str(tmp_path), embedder=embedder)
    assert isinstance(loaded, HybridRetriever) and loaded.candidates == 4
    for q in ["Spain", "tower"]:
        assert _ids_scores(loaded.search(q, k=3)) == _ids_scores(hybrid.search(q, k=3))
