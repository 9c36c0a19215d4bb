"""CoarseToFineCompressor: query-guided sentences, then token pruning, within the exact budget."""

from __future__ import annotations

import pytest

from contextzip.compressors.pipeline import CoarseToFineCompressor
from contextzip.model_registry import model_available
from contextzip.registry import load_compressor

needs_student = pytest.mark.skipif(not model_available("contextzip-token-clf"), reason="student not built")

DOCS = [
    {"id": "nobel", "text": "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany. "
     "He received 150,782 SEK for the discovery of X-rays.", "metadata": {"title": "Nobel Prize in Physics"}},
    {"id": "wind", "text": "The south west wind blows across Nigeria between July and September. It brings heavy "
     "rain to the south of the country, while the north stays dry for most of the year.",
     "metadata": {"title": "Climate of Nigeria"}},
    {"id": "paris", "text": "Paris is the capital of France. It has more than two million residents and is known for "
     "its museums, its cafés and the Eiffel Tower, built for the 1889 World's Fair.",
     "metadata": {"title": "Paris"}},
]


@pytest.fixture(scope="module")
def pipeline(query_guided) -> CoarseToFineCompressor:
    return CoarseToFineCompressor(sentence_scorer=query_guided.scorer)


def test_registered() -> None:
    from contextzip.registry import get_compressor_class

    assert get_compressor_class("coarse-to-fine") is CoarseToFineCompressor


def test_bad_coarse_share() -> None:
    for bad in (-0.1, 1.5, True, "0.1"):
        with pytest.raises(ValueError, match="coarse_share"):
            CoarseToFineCompressor(coarse_share=bad, sentence_scorer=object(), fine=object())  # type: ignore[arg-type]


@pytest.mark.slow
@needs_student
@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5])
def test_budget_and_accounting(pipeline: CoarseToFineCompressor, rate: float) -> None:
    result = pipeline.compress(DOCS, "Who received the first Nobel Prize in Physics?", rate=rate)
    assert pipeline.token_counter.count(result.text) <= result.target_tokens
    assert [d.id for d in result.documents] == ["nobel", "wind", "paris"]
    assert "Röntgen" in result.text
    pos = 0
    for piece in result.documents[0].text.split():
        pos = DOCS[0]["text"].find(piece, pos)
        assert pos >= 0


@pytest.mark.slow
@needs_student
def test_batch_equals_single(pipeline: CoarseToFineCompressor) -> None:
    items = [("Who received the first Nobel Prize in Physics?", DOCS), ("When does the wind blow?", DOCS[1:])]
    batch = pipeline.compress_batch(items, target_tokens=30)
    single = [pipeline.compress(d, q, target_tokens=30) for q, d in items]
    assert [r.text for r in batch] == [r.text for r in single]


@pytest.mark.slow
@needs_student
def test_sentences_are_embedded_once(pipeline: CoarseToFineCompressor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The fine step reuses the coarse step's sentence scores: one embedding pass per call."""
    embedder = pipeline.sentence_scorer.embedder
    calls = []
    original = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, *a, **k: calls.append(len(texts)) or original(texts, *a, **k))
    result = pipeline.compress(DOCS, "When does the south west wind blow across Nigeria?", rate=0.25)
    assert len(calls) == 1
    assert "Nigeria" in result.text and result.compressed_tokens <= result.target_tokens


@pytest.mark.slow
@needs_student
def test_hotpotqa_within_budget(data_dir, pipeline: CoarseToFineCompressor) -> None:
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("hotpotqa", str(data_dir), 2)
    for result in pipeline.compress_batch([(ex.question, ex.documents) for ex in examples], rate=0.1):
        assert pipeline.token_counter.count(result.text) <= result.target_tokens
        assert result.compressed_tokens >= 0.95 * result.target_tokens


@pytest.mark.slow
@needs_student
def test_query_aware_variant_by_name() -> None:
    c = load_compressor("token-classification-query")
    assert c.uses_query


def test_single_document_settings_are_checked() -> None:
    from contextzip.compressors.pipeline import SingleDocument

    for bad in ({"coarse_share": 1.5}, {"bridge_weight": 2}, {"answer_span_weight": -1}, {"relevance_weight": True}):
        with pytest.raises(ValueError, match="single_document"):
            SingleDocument(**bad)
    with pytest.raises(ValueError, match="no setting 'coarse'"):
        CoarseToFineCompressor(single_document={"coarse": 1.0}, sentence_scorer=object(), fine=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single_document"):
        CoarseToFineCompressor(single_document=0.5, sentence_scorer=object(), fine=object())  # type: ignore[arg-type]
    c = CoarseToFineCompressor(single_document={"coarse_share": 0.5}, sentence_scorer=object(), fine=object())  # type: ignore[arg-type]
    assert c.single_document == SingleDocument(coarse_share=0.5)
    assert CoarseToFineCompressor(single_document=None, sentence_scorer=object(),  # type: ignore[arg-type]
                                  fine=object()).single_document is None


def test_bridge_lifts_gaps_between_better_words() -> None:
    import numpy as np

    from contextzip.compressors.token_classification_query import bridge

    s = np.array([1.0, 0.1, 0.9, 0.2, 0.1, 0.8, 0.0])
    np.testing.assert_allclose(bridge(s, 1.0), [1.0, 0.9, 0.9, 0.8, 0.8, 0.8, 0.0])
    np.testing.assert_allclose(bridge(s, 0.5), [1.0, 0.5, 0.9, 0.5, 0.45, 0.8, 0.0])
    np.testing.assert_allclose(bridge(np.array([0.2, 0.0, 0.0, 0.0, 0.3]), 1.0), [0.2, 0.0, 0.0, 0.0, 0.3])  # 3-word gap


@pytest.mark.slow
@needs_student
def test_single_document_prunes_words_of_the_whole_passage(pipeline: CoarseToFineCompressor) -> None:
    """One document: the coarse step hands on every sentence, so words of both sentences may stay; the same
    request with single_document=None keeps the best sentence's words only. Several documents: unchanged."""
    query = "How much did the first Nobel Prize in Physics winner receive, and in which year?"
    doc = [DOCS[0]]
    single = pipeline.compress(doc, query, rate=0.5)
    assert "single-document settings" in single.strategy
    assert single.compressed_tokens <= single.target_tokens
    assert single.extra["coarse_tokens"] >= single.original_tokens - 2  # every sentence (token estimates)
    plain = CoarseToFineCompressor(sentence_scorer=pipeline.sentence_scorer, single_document=None)
    multi = plain.compress(doc, query, rate=0.5)
    assert "single-document" not in multi.strategy
    assert multi.extra["coarse_tokens"] < single.extra["coarse_tokens"]
    several = pipeline.compress(DOCS, query, rate=0.25)
    assert "single-document" not in several.strategy
    assert several.text == plain.compress(DOCS, query, rate=0.25).text
    # in one batch, each request takes its own settings
    batch = pipeline.compress_batch([(query, doc), (query, DOCS)], rate=[0.5, 0.25])
    assert [r.text for r in batch] == [single.text, several.text]
