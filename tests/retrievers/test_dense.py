from __future__ import annotations

import pytest

from contextzip.retrievers import DenseRetriever
from contextzip.types import Document


@pytest.mark.slow
def test_add_search_save_load(tmp_path):
    retriever = DenseRetriever()
    retriever.add(["Paris is the capital of France.", "Bananas are yellow fruit.", "Python is a programming language."])
    hits = retriever.search("Which city is France's capital?", k=2)
    assert hits[0].document.text.startswith("Paris")
    assert hits[0].score >= hits[1].score
    retriever.save(str(tmp_path))
    loaded = DenseRetriever.load(str(tmp_path), embedder=retriever.embedder)
    assert len(loaded) == 3
    assert loaded.search("programming", k=1)[0].document.text.startswith("Python")


def test_bad_search_arguments(embedder):
    retriever = DenseRetriever(embedder=embedder)
    assert retriever.search("anything") == []
    with pytest.raises(ValueError):
        retriever.search("q", k=0)
    with pytest.raises(TypeError):
        retriever.search(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filter"):
        retriever.search("q", filter=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="index must be one of"):
        DenseRetriever(embedder=embedder, index="annoy")


@pytest.mark.parametrize("index", ["flat", "hnsw", "ivfpq", "int8", "binary"])
def test_ids_delete_update_filters_and_round_trip(index, embedder, corpus, tmp_path):
    retriever = DenseRetriever(embedder=embedder, index=index)
    assert retriever.add(corpus) == [d.id for d in corpus]
    assert retriever.add(["an extra note"]) == ["6"]
    with pytest.raises(ValueError, match="already indexed"):
        retriever.add([Document("again", "paris")])
    assert retriever.search("capital of France", k=1)[0].document.id == "paris"

    # filters: equality, any-of, predicate
    hits = retriever.search("capital", k=6, filter={"lang": "de"})
    assert [h.document.id for h in hits] == ["berlin"]
    hits = retriever.search("capital", k=6, filter={"year": [2020, 2021]})
    assert {h.document.id for h in hits} == {"paris", "berlin", "banana", "madrid"}
    hits = retriever.search("capital", k=6, filter=lambda d: d.id.startswith("m"))
    assert [h.document.id for h in hits] == ["madrid"]
    assert retriever.search("capital", filter={"lang": "fr"}) == []

    # delete and update by id
    assert retriever.delete(["paris", "nope"]) == 1
    assert "paris" not in retriever and len(retriever) == 6
    assert all(h.document.id != "paris" for h in retriever.search("capital of France", k=6))
    retriever.update(Document("Bananas are blue and square.", "banana", {"lang": "xx"}))
    assert retriever.get("banana").text.startswith("Bananas are blue")
    assert [h.document.id for h in retriever.search("bananas", k=3, filter={"lang": "xx"})] == ["banana"]
    with pytest.raises(ValueError, match="not in the index"):
        retriever.update(Document("x", "missing"))

    # batched search equals single searches
    queries = ["capital of Spain", "programming language", "tall tower"]
    batched = retriever.search_batch(queries, k=3)
    assert [[h.document.id for h in hs] for hs in batched] == [
        [h.document.id for h in retriever.search(q, k=3)] for q in queries]

    # save / load: index, ids and metadata
    retriever.save(str(tmp_path))
    loaded = DenseRetriever.load(str(tmp_path), embedder=embedder)
    assert loaded.index.name == index and len(loaded) == len(retriever)
    assert loaded.get("banana") == retriever.get("banana") and loaded.get("berlin").metadata == {"lang": "de", "year": 2020}
    assert [h.document.id for h in loaded.search("capital of Spain", k=3)] == [h.document.id for h in batched[0]]
    assert loaded.add(["after loading"]) == ["7"]
    assert loaded.index_bytes() > 0


def test_legacy_single_flat_layout_loads(embedder, tmp_path):
    import json

    import faiss

    vectors = embedder.encode(["alpha beta", "gamma delta"])
    index = faiss.IndexFlatIP(embedder.dimension)
    index.add(vectors)
    faiss.write_index(index, str(tmp_path / "index.faiss"))
    (tmp_path / "documents.jsonl").write_text(
        "\n".join(json.dumps({"id": str(i), "text": t, "metadata": {}}) for i, t in enumerate(["alpha beta", "gamma delta"])))
    (tmp_path / "config.json").write_text(json.dumps({"model_name_or_path": "hashing-test", "count": 2}))
    loaded = DenseRetriever.load(str(tmp_path), embedder=embedder)
    assert loaded.search("gamma", k=1)[0].document.id == "1"
    assert loaded.delete("0") == 1 and len(loaded) == 1


async def test_async_search(embedder, corpus):
    retriever = DenseRetriever(embedder=embedder)
    retriever.add(corpus)
    hits = await retriever.asearch("capital of Spain", k=1)
    assert hits[0].document.id == "madrid"
    assert len(await retriever.asearch_batch(["a", "b"], k=2)) == 2
