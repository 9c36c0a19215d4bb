from __future__ import annotations

import pytest

from contextzip.retrievers import DenseRetriever

pytestmark = pytest.mark.slow


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


def test_bad_search_arguments():
    retriever = DenseRetriever()
    assert retriever.search("anything") == []
    with pytest.raises(ValueError):
        retriever.search("q", k=0)
    with pytest.raises(TypeError):
        retriever.search(5)  # type: ignore[arg-type]
