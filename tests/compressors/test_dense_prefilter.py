"""The static first stage of query-guided's dense signal: the packaged model2vec vectors, the bound on what the
dense model embeds, and identical scores where the bound is not reached."""

from __future__ import annotations

import numpy as np
import pytest

from contextzip import Document
from contextzip.compressors.query_guided import QueryGuidedCompressor, QueryGuidedScorer
from contextzip.static_embedder import StaticEmbedder
from contextzip.testing.embedders import HashingEmbedder

TOPICS = ["lighthouse keeper", "river delta", "mountain railway", "glass factory", "coral reef", "tea harvest"]


def _documents(n_docs: int = 6, per_doc: int = 8) -> list[Document]:
    docs = []
    for d in range(n_docs):
        topic = TOPICS[d % len(TOPICS)]
        sentences = [f"The {topic} record number {k} mentions event {d * 100 + k} in the year {1900 + 7 * k + d}."
                     for k in range(per_doc)]
        docs.append(Document(" ".join(sentences), f"d{d}", {"title": topic.title()}))
    return docs


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder()


def test_static_vectors_are_unit_rows_of_the_packaged_model(static):
    vectors = static.encode(["The lighthouse was automated in 1987.", "Tea is harvested by hand.", ""])
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert static.encode([]).shape == (0, 128)
    again = static.encode(["Tea is harvested by hand."])
    assert np.allclose(again[0], vectors[1])
    related = static.encode(["When was the lighthouse automated?"])[0]
    assert related @ vectors[0] > related @ vectors[1]  # it carries meaning, not noise
    # word pieces with the [CLS] / [SEP] pair: "hello world ," is 3 pieces
    assert list(static.count_tokens(["hello world,", ""])) == [5, 2]
    # a lone surrogate (legal in a Python str, refused by tokenizers) reads as U+FFFD
    assert static.count_tokens(["tea \ud800 cup"])[0] == static.count_tokens(["tea \ufffd cup"])[0]
    assert np.allclose(static.encode(["tea \ud800 cup"]), static.encode(["tea \ufffd cup"]))


def test_the_dense_model_embeds_at_most_dense_tokens_word_pieces_of_a_long_request(static):
    dense = HashingEmbedder()
    compressor = QueryGuidedCompressor(embedder=dense, prefilter=static, dense_tokens=120)
    docs = _documents()
    query = "Which coral reef record mentions event 403?"
    result = compressor.compress(docs, query, target_tokens=60)
    assert result.compressed_tokens <= 60
    assert len(dense.calls) == 1
    embedded = [t for t in dense.calls[0] if t != query]
    sentences = sum(len(d.text.split(". ")) for d in docs)
    assert 0 < len(embedded) < sentences
    tokens = static.count_tokens(embedded)
    # the bound, plus at most the one sentence that crosses it
    assert tokens.sum() - tokens.max() <= 120 < static.count_tokens([t for d in docs for t in [d.text]]).sum()
    assert "static first stage" in result.strategy


def test_a_request_within_dense_tokens_is_scored_as_without_a_first_stage(static):
    docs = _documents(n_docs=2, per_doc=2)
    query = "Which river delta record mentions event 101?"
    with_first = QueryGuidedCompressor(embedder=HashingEmbedder(), prefilter=static, dense_tokens=10_000)
    without = QueryGuidedCompressor(embedder=HashingEmbedder(), prefilter=None)
    a = with_first.compress(docs, query, target_tokens=30)
    b = without.compress(docs, query, target_tokens=30)
    assert a.text == b.text and a.strategy == b.strategy
    assert [d.score for d in a.documents] == [d.score for d in b.documents]


def test_without_a_prefilter_every_sentence_is_embedded():
    dense = HashingEmbedder()
    compressor = QueryGuidedCompressor(embedder=dense, prefilter=None, dense_tokens=20)
    docs = _documents(n_docs=3, per_doc=4)
    compressor.compress(docs, "Which record mentions event 203?", target_tokens=40)
    assert len(dense.calls[0]) == 3 * 4 + 1  # every sentence and the question


def test_candidates_take_the_dense_models_term_and_the_rest_keep_the_first_stage_scores(static):
    from contextzip.compressors.extractive import segment_sentences
    from contextzip.types import CompressionRequest

    dense = HashingEmbedder()
    scorer = QueryGuidedScorer(dense, prefilter=static, dense_tokens=100)
    first_only = QueryGuidedScorer(static)  # the first stage on its own: the prefilter as the dense model
    from contextzip.tokens import get_token_counter

    docs = tuple(_documents())
    counter = get_token_counter()
    request = CompressionRequest(docs, "Which glass factory record mentions event 305?", 50, 1000,
                                 tuple(counter.count_many([d.text for d in docs])), counter, "\n\n")
    sentences = segment_sentences(request)
    refined = scorer.score_sentences([sentences])[0].unit_scores
    first = first_only.score_sentences([sentences])[0].unit_scores
    changed = ~np.isclose(refined, first)
    assert 0 < changed.sum() < len(first)
    embedded = set(dense.calls[0])
    views = scorer._unit_views(sentences)
    assert {views[k] for k in np.flatnonzero(changed)} <= embedded
    w = scorer.weights
    share = w.dense / (w.dense + w.lexical + w.coverage)
    assert np.all(np.abs(refined - first) <= share + 1e-9)  # only the dense term moved


def test_compress_batch_embeds_every_request_in_one_dense_pass(static):
    dense = HashingEmbedder()
    compressor = QueryGuidedCompressor(embedder=dense, prefilter=static, dense_tokens=100)
    long_docs, short_docs = _documents(), _documents(n_docs=1, per_doc=2)
    results = compressor.compress_batch([("event 403?", long_docs), ("event 1?", short_docs)], target_tokens=[50, 15])
    assert len(dense.calls) == 1
    assert [r.compressed_tokens <= b for r, b in zip(results, (50, 15), strict=True)] == [True, True]
    single = [QueryGuidedCompressor(embedder=HashingEmbedder(), prefilter=static, dense_tokens=100)
              .compress(d, q, target_tokens=b).text
              for d, q, b in ((long_docs, "event 403?", 50), (short_docs, "event 1?", 15))]
    assert [r.text for r in results] == single


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_dense_tokens_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="dense_tokens"):
        QueryGuidedScorer(HashingEmbedder(), dense_tokens=bad)


def test_the_static_model_is_registered_and_available():
    from contextzip.model_registry import MODELS, model_available

    assert MODELS["minilm-static"].kind == "static-embedding"
    assert model_available("minilm-static")


def test_coarse_to_fine_takes_the_first_stage_only_when_asked():
    from contextzip.compressors.pipeline import CoarseToFineCompressor

    assert CoarseToFineCompressor().sentence_scorer.prefilter is None
    asked = CoarseToFineCompressor(prefilter="minilm-static").sentence_scorer.prefilter
    assert isinstance(asked, StaticEmbedder) and asked.model_name_or_path == "minilm-static"
    assert QueryGuidedCompressor(prefilter=None).prefilter is None
    assert isinstance(QueryGuidedCompressor().prefilter, StaticEmbedder)


def test_documents_too_alike_for_static_vectors_are_embedded_whole(static):
    """Chunks of one article (one title, one topic): the static ranking cannot choose among them, so MiniLM reads
    every sentence, as without a first stage; the same request over different topics takes the first stage."""
    alike = [Document(" ".join(f"The Harwick Point lighthouse keeper logged storm {d * 10 + k} in the lighthouse "
                               f"keeper's log of the Harwick Point lighthouse." for k in range(6)),
                      f"d{d}", {"title": "Harwick Point Lighthouse"}) for d in range(6)]
    query = "Which storm did the Harwick Point lighthouse keeper log?"
    dense = HashingEmbedder()
    result = QueryGuidedCompressor(embedder=dense, prefilter=static, dense_tokens=60).compress(
        alike, query, target_tokens=40)
    assert "static first stage" not in result.strategy
    assert len(dense.calls[0]) == 6 * 6 + 1  # every sentence and the question
    dense = HashingEmbedder()
    result = QueryGuidedCompressor(embedder=dense, prefilter=static, dense_tokens=60).compress(
        _documents(), query, target_tokens=40)
    assert "static first stage" in result.strategy and len(dense.calls[0]) < 6 * 8 + 1
