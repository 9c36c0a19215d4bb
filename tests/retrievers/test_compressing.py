from __future__ import annotations

import pytest

from contextzip.registry import load_compressor
from contextzip.retrievers import BM25Retriever, CompressingRetriever, DenseRetriever, HybridRetriever
from contextzip.types import DocumentStatus

QUERIES = ["What is the capital of France?", "How tall is the Eiffel Tower?", "Who created Python?", "zzzz"]


def _check(result, retriever, k, budget):
    ids = [h.document.id for h in result.hits]
    assert ids == [h.document.id for h in retriever.search(result.query, k=k)]
    assert [d.id for d in result.compression.documents] == ids  # every retrieved document accounted for
    assert result.compression.compressed_tokens <= budget
    kept = [d.id for d in result.compression.documents if d.status is not DocumentStatus.DROPPED]
    assert [d.id for d in result.documents] == kept


@pytest.fixture
def hybrid(embedder, corpus):
    retriever = HybridRetriever([BM25Retriever(), DenseRetriever(embedder=embedder)])
    retriever.add(corpus * 1 + [c.text + " " + c.text for c in corpus])
    return retriever


def test_retrieve_and_batch_stay_within_budget_and_account_for_every_document(hybrid):
    zipper = CompressingRetriever(hybrid, load_compressor("truncate"), target_tokens=20, k=5)
    results = zipper.batch(QUERIES)
    assert [r.query for r in results] == QUERIES
    for r in results:
        _check(r, hybrid, 5, 20)
    single = zipper.retrieve(QUERIES[1])
    assert single.text == results[1].text and str(single) == single.text
    assert any(d.status is DocumentStatus.DROPPED for d in single.compression.documents)
    assert zipper("capital", k=2).compression.documents[1].id == hybrid.search("capital", k=2)[1].document.id


def test_filter_and_rate(hybrid):
    zipper = CompressingRetriever(hybrid, load_compressor("truncate"), rate=0.5, k=3)
    result = zipper.retrieve("capital", filter={"lang": "de"})
    assert [h.document.id for h in result.hits] == ["berlin"]
    assert result.compression.compressed_tokens <= 0.5 * result.compression.original_tokens + 1


async def test_async_variants(hybrid):
    zipper = CompressingRetriever(hybrid, load_compressor("truncate"), target_tokens=15, k=4)
    results = await zipper.abatch(QUERIES[:3])
    assert [r.text for r in results] == [r.text for r in zipper.batch(QUERIES[:3])]
    assert (await zipper.aretrieve(QUERIES[0])).text == results[0].text


def test_bad_arguments(hybrid):
    with pytest.raises(ValueError):
        CompressingRetriever(hybrid, "truncate")  # no budget
    with pytest.raises(ValueError):
        CompressingRetriever(hybrid, "truncate", target_tokens=10, rate=0.5)
    with pytest.raises(TypeError, match="search_batch"):
        CompressingRetriever(object(), "truncate", target_tokens=10)  # type: ignore[arg-type]
    zipper = CompressingRetriever(hybrid, "truncate", target_tokens=10)
    with pytest.raises(ValueError, match="k must be"):
        zipper.retrieve("q", k=0)
    with pytest.raises(TypeError):
        zipper.batch("one string")  # type: ignore[arg-type]
    assert zipper.batch([]) == []


@pytest.mark.slow
def test_query_guided_batch_keeps_the_answer(query_guided, corpus):
    retriever = DenseRetriever(embedder=query_guided.embedder)
    retriever.add(corpus)
    zipper = CompressingRetriever(retriever, query_guided, target_tokens=25, k=4)
    results = zipper.batch(QUERIES[:3])
    for r in results:
        _check(r, retriever, 4, 25)
    assert "Paris" in results[0].text and "330" in results[1].text and "Guido" in results[2].text
