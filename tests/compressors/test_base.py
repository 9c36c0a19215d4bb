"""Invariants every compressor keeps: the budget, full accounting of documents, clear errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextzip import Document, DocumentStatus
from contextzip.compressors import BM25SentenceCompressor, RandomSentenceCompressor, TruncateCompressor
from contextzip.compressors.base import as_documents

PARAGRAPHS = [
    "Marie Curie was a physicist and chemist who conducted pioneering research on radioactivity. "
    "She was the first woman to win a Nobel Prize.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was built in 1889 for the World's Fair.",
    "Photosynthesis converts light energy into chemical energy. Plants, algae and some bacteria use it.",
]

words = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "S"]), min_size=0, max_size=80)
doc_lists = st.lists(st.lists(words, min_size=1, max_size=5).map(". ".join), min_size=1, max_size=6)


def _check(result, docs, budget, counter):
    assert counter.count(result.text) == result.compressed_tokens
    assert result.compressed_tokens <= budget
    assert [d.index for d in result.documents] == list(range(len(docs)))
    assert [d.id for d in result.documents] == [str(i) for i in range(len(docs))]
    for d, original in zip(result.documents, docs, strict=True):
        assert d.status in set(DocumentStatus)
        if d.status is DocumentStatus.DROPPED:
            assert d.text == "" and d.compressed_tokens == 0
        if d.status is DocumentStatus.KEPT:
            assert d.text.strip() == original.strip()
    if result.original_tokens > budget:
        assert result.compressed_tokens >= 0.95 * budget or result.under_budget_reason


@pytest.mark.parametrize("cls", [TruncateCompressor, RandomSentenceCompressor, BM25SentenceCompressor])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=doc_lists, budget=st.integers(min_value=1, max_value=120), query=st.none() | words)
def test_budget_and_accounting_hold_for_random_inputs(cls, counter, docs, budget, query):
    result = cls().compress(docs, query, target_tokens=budget)
    _check(result, docs, budget, counter)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=doc_lists, budget=st.integers(min_value=1, max_value=120), query=st.none() | words)
def test_query_guided_budget_and_accounting(query_guided, counter, docs, budget, query):
    _check(query_guided.compress(docs, query, target_tokens=budget), docs, budget, counter)


@pytest.mark.parametrize("bad", [None, 42, 3.5, b"bytes", {"text": "a mapping alone"}, [1, 2], [{"no": "text"}]])
def test_wrong_document_types_raise_type_error(bad):
    with pytest.raises(TypeError):
        TruncateCompressor().compress(bad, target_tokens=10)


@pytest.mark.parametrize(("kwargs", "error"), [({}, ValueError), ({"target_tokens": 0}, ValueError),
                                               ({"target_tokens": -1}, ValueError), ({"rate": 0}, ValueError),
                                               ({"target_tokens": 5, "rate": 0.5}, ValueError),
                                               ({"rate": 2}, ValueError)])
def test_impossible_budgets_raise(kwargs, error):
    with pytest.raises(error):
        TruncateCompressor().compress(PARAGRAPHS, **kwargs)


def test_query_must_be_text():
    with pytest.raises(TypeError, match="query"):
        TruncateCompressor().compress(PARAGRAPHS, query=123, target_tokens=10)  # type: ignore[arg-type]


def test_empty_and_whitespace_inputs_are_documented_results(counter):
    for docs in ("", "   \n\t ", [], ["", "  "]):
        result = TruncateCompressor().compress(docs, target_tokens=10)
        assert result.text == "" and result.compressed_tokens == 0
        assert result.under_budget_reason == "input is empty"
        assert all(d.status is DocumentStatus.DROPPED for d in result.documents)


def test_input_within_budget_passes_through_unchanged():
    result = TruncateCompressor().compress(PARAGRAPHS, target_tokens=10_000)
    assert result.text == "\n\n".join(PARAGRAPHS)
    assert all(d.status is DocumentStatus.KEPT for d in result.documents)
    assert result.ratio == 1.0


def test_as_documents_keeps_ids_and_metadata_and_never_mutates():
    meta = {"title": "T"}
    docs = [Document("a", "x", meta), "b", {"text": "c", "id": 7, "metadata": {"k": 1}}]
    out = as_documents(docs)
    assert [d.id for d in out] == ["x", "1", "7"]
    assert out[0].metadata is meta and meta == {"title": "T"}
    assert out[2].metadata == {"k": 1}


def test_compress_batch_matches_single_calls():
    compressor = BM25SentenceCompressor()
    pairs = [("When was the Eiffel Tower built?", PARAGRAPHS), ("Who won a Nobel Prize?", PARAGRAPHS)]
    batch = compressor.compress_batch(pairs, target_tokens=30)
    single = [compressor.compress(docs, q, target_tokens=30) for q, docs in pairs]
    assert [r.text for r in batch] == [r.text for r in single]


def test_compress_batch_rejects_bad_items():
    with pytest.raises(TypeError):
        TruncateCompressor().compress_batch("not pairs", target_tokens=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TruncateCompressor().compress_batch([("q",)], target_tokens=5)  # type: ignore[list-item]


def test_result_serialises_to_json():
    import json

    result = TruncateCompressor().compress(PARAGRAPHS, target_tokens=20)
    data = json.loads(result.to_json())
    for key in ("text", "original_tokens", "compressed_tokens", "ratio", "documents"):
        assert key in data
    assert data["documents"][0]["status"] in ("kept", "shortened", "dropped")


def test_string_metadata_in_a_mapping_document_is_a_clear_error() -> None:
    from contextzip.compressors.base import as_documents

    with pytest.raises(TypeError, match="document 0: 'metadata' must be a mapping, but got str"):
        as_documents([{"text": "Some text.", "metadata": "web"}])
