from __future__ import annotations

import pytest

from contextzip.retrievers import BM25Retriever
from contextzip.types import Document


def test_search_ranks_exact_terms_and_numbers(corpus):
    bm25 = BM25Retriever()
    bm25.add(corpus)
    assert bm25.search("How tall is the Eiffel Tower, 330?", k=1)[0].document.id == "eiffel"
    hits = bm25.search("capital of France", k=3)
    assert hits[0].document.id == "paris" and hits[0].score >= hits[-1].score > 0
    assert bm25.search("zzzz qqqq") == []  # no known word: nothing, not an error
    batched = bm25.search_batch(["banana potassium", "zzzz", "Guido programming"], k=2)
    assert [hs[0].document.id if hs else None for hs in batched] == ["banana", None, "python"]


def test_stemming_and_stop_words_are_configurable():
    docs = ["The runners were running quickly", "A runner runs"]
    stemmed, plain = BM25Retriever(), BM25Retriever(stemmer=None, stopwords=None)
    for r in (stemmed, plain):
        r.add(docs)
    assert {h.document.id for h in stemmed.search("run", k=2)} == {"0", "1"}
    assert plain.search("run", k=2) == []
    assert stemmed.tokenize(["The runners"]) == [["runner"]]
    assert plain.tokenize(["The runners"]) == [["the", "runners"]]
    assert BM25Retriever(stemmer=None, stopwords=["runners"]).tokenize(["The runners"]) == [["the"]]
    with pytest.raises(ValueError, match="Snowball"):
        BM25Retriever(stemmer="klingon")


def test_delete_update_filter_save_load(corpus, tmp_path):
    bm25 = BM25Retriever()
    bm25.add(corpus)
    assert [h.document.id for h in bm25.search("capital", k=5, filter={"lang": "en", "year": 2021})] == ["madrid"]
    assert bm25.search("capital", filter={"lang": "fr"}) == []
    assert bm25.delete("madrid") == 1 and bm25.delete("madrid") == 0
    assert [h.document.id for h in bm25.search("capital Spain", k=5)] == ["paris"]
    bm25.update(Document("Madrid is the capital of Spain.", "paris", {"lang": "es"}))
    assert bm25.search("Spain", k=1)[0].document.metadata == {"lang": "es"}
    with pytest.raises(ValueError, match="already indexed"):
        bm25.add([Document("x", "paris")])

    bm25.save(str(tmp_path))
    loaded = BM25Retriever.load(str(tmp_path))
    assert len(loaded) == len(bm25) == 5 and loaded.index_bytes() == bm25.index_bytes() > 0
    for q in ["Spain", "Eiffel tower", "bananas"]:
        assert [(h.document, h.score) for h in loaded.search(q, k=3)] == [(h.document, h.score) for h in bm25.search(q, k=3)]
    assert loaded.add(["a new capital"]) == ["5"]
    assert loaded.search("new capital", k=1)[0].document.id == "5"
