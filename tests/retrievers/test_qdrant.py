from __future__ import annotations

import pytest

pytest.importorskip("qdrant_client")

from contextzip.retrievers import DenseRetriever, QdrantRetriever  # noqa: E402
from contextzip.types import Document  # noqa: E402


def test_local_mode_add_search_filter_update_delete(embedder, corpus):
    qdrant = QdrantRetriever(embedder=embedder)  # in-process, in memory
    assert len(qdrant) == 0 and qdrant.search("anything") == []
    assert qdrant.add(corpus) == [d.id for d in corpus]
    with pytest.raises(ValueError, match="already indexed"):
        qdrant.add([Document("again", "paris")])
    assert len(qdrant) == 6 and qdrant.get("berlin") == corpus[3]

    # same ranking as exact FAISS search over the same embeddings
    flat = DenseRetriever(embedder=embedder)
    flat.add(corpus)
    for q in ["capital of France", "yellow fruit", "programming"]:
        got, want = qdrant.search(q, k=3), flat.search(q, k=3)
        assert got[0].document.id == want[0].document.id
        assert [round(h.score, 4) for h in got] == [round(h.score, 4) for h in want]  # ties may swap ids

    assert [h.document.id for h in qdrant.search("capital", k=6, filter={"lang": "de"})] == ["berlin"]
    assert {h.document.id for h in qdrant.search("capital", k=6, filter={"year": [2020, 2021]})} == {
        "paris", "berlin", "banana", "madrid"}
    with pytest.raises(TypeError, match="mapping filters only"):
        qdrant.search("capital", filter=lambda d: True)

    qdrant.update(Document("Bananas are blue.", "banana", {"lang": "xx"}))
    assert qdrant.get("banana").metadata == {"lang": "xx"}
    with pytest.raises(ValueError, match="not in the collection"):
        qdrant.update(Document("x", "missing"))
    assert qdrant.delete(["paris", "missing"]) == 1 and "paris" not in qdrant and len(qdrant) == 5
    batched = qdrant.search_batch(["capital of Spain", "tower"], k=2)
    assert [hs[0].document.id for hs in batched] == ["madrid", "eiffel"]


def test_local_mode_on_disk_persists(embedder, corpus, tmp_path):
    qdrant = QdrantRetriever("docs", embedder=embedder, path=str(tmp_path))
    qdrant.add(corpus)
    qdrant.client.close()
    reopened = QdrantRetriever("docs", embedder=embedder, path=str(tmp_path))
    assert len(reopened) == 6 and reopened.search("capital of Spain", k=1)[0].document.id == "madrid"
    reopened.client.close()
    with pytest.raises(ValueError, match="not both"):
        QdrantRetriever(client=reopened.client, path=str(tmp_path))
