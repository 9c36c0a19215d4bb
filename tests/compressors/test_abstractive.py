"""abstractive: faithfulness, selective augmentation, hard budget, causal and seq2seq writers, NQ acceptance."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contextzip.compressors.abstractive import AbstractiveCompressor, content_terms, faithfulness
from contextzip.eval.metrics import contains_answer

DOCS = [
    "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany, who received "
    "150,782 SEK. John Bardeen is the only laureate to win the prize twice, in 1956 and 1972.",
    "Paris is the capital and most populous city of France.",
]
QUESTION = "Who got the first Nobel prize in physics?"


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from contextzip.engine import ScoringEngine
    from contextzip.models import SentenceEmbedder

    return SentenceEmbedder("minilm", ScoringEngine(device="cpu"))


def test_content_terms_and_faithfulness() -> None:
    assert content_terms("The prize was won in 1901 by Röntgen.") == ["prize", "won", "1901", "röntgen"]
    assert faithfulness("Röntgen won the prize in 1901.", DOCS) == pytest.approx(0.75)  # "won" is not in DOCS
    assert faithfulness("Röntgen was awarded the prize in 1901.", DOCS) == 1.0
    assert faithfulness("the of and", DOCS) is None


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_faithfulness_is_a_share(text: str) -> None:
    score = faithfulness(text, DOCS)
    assert score is None or 0.0 <= score <= 1.0
    assert faithfulness(text, [text]) in (None, 1.0)


@pytest.mark.parametrize("which", [0, 1], ids=["causal", "seq2seq"])
def test_writes_within_budget_and_reports_faithfulness(tiny_lms, embedder, counter, which) -> None:  # type: ignore[no-untyped-def]
    compressor = AbstractiveCompressor(tiny_lms[which], embedder=embedder, device="cpu", dtype="float32",
                                       min_faithfulness=None, max_new_tokens=12)
    results = compressor.compress_batch([(QUESTION, DOCS), (None, DOCS)], target_tokens=5)
    for res in results:
        assert counter.count(res.text) == res.compressed_tokens <= 5
        assert len(res.documents) == 2 and (res.faithfulness is None or 0.0 <= res.faithfulness <= 1.0)
        assert res.extra["selective_augmentation"] is False
    assert compressor.generator.is_seq2seq == bool(which)


def test_faithfulness_filter_drops_invented_sentences(tiny_lms, embedder) -> None:  # type: ignore[no-untyped-def]
    compressor = AbstractiveCompressor(tiny_lms[0], embedder=embedder, device="cpu", dtype="float32", min_faithfulness=1.0)
    out = compressor._finalize(_request(QUESTION, DOCS, 40),
                               "Röntgen was awarded the prize in 1901. The Moon is made of cheese.", 0.9)
    assert out.text == "Röntgen was awarded the prize in 1901." and out.faithfulness == 1.0
    assert out.extra["dropped_sentences"] == 1 and out.document_texts[0] == out.text and out.document_texts[1] == ""


def test_selective_augmentation_returns_empty_context(tiny_lms, embedder) -> None:  # type: ignore[no-untyped-def]
    compressor = AbstractiveCompressor(tiny_lms[0], embedder=embedder, device="cpu", dtype="float32")
    res = compressor.compress(DOCS[1:], "Which film won the Academy Award for Best Picture in 1994?", target_tokens=5)
    assert res.text == "" and res.extra["selective_augmentation"] is True
    assert "do not bear on the question" in res.under_budget_reason
    assert all(d.status.value == "dropped" for d in res.documents)


@pytest.mark.parametrize("kwargs", [{"relevance_threshold": 2.0}, {"min_faithfulness": -0.1},
                                    {"max_source_tokens": 0}, {"max_new_tokens": 0}])
def test_invalid_options(tiny_lms, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AbstractiveCompressor(tiny_lms[0], **kwargs)


def _nq_pairs(data_dir, n):  # type: ignore[no-untyped-def]
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("nq", str(data_dir))
    half = len(examples) // 2
    return [(ex, examples[(k + half) % len(examples)]) for k, ex in enumerate(examples[:n])]


def test_nq_gate_is_empty_for_unrelated_passages(tiny_lms, embedder, data_dir) -> None:  # type: ignore[no-untyped-def]
    """Selective augmentation on NQ: unrelated passage -> empty >= 80%; gold passage passes the gate."""
    from contextzip.compressors.base import CompressionRequest
    from contextzip.tokens import get_token_counter

    compressor = AbstractiveCompressor(tiny_lms[0], embedder=embedder, device="cpu")
    counter = get_token_counter()
    pairs = _nq_pairs(data_dir, 40)

    def best(question, documents):  # type: ignore[no-untyped-def]
        return CompressionRequest(documents, question, 40, 100, [1] * len(documents), counter, "\n\n")

    gold = compressor._relevance([best(a.question, a.documents) for a, _ in pairs])
    unrelated = compressor._relevance([best(a.question, b.documents) for a, b in pairs])
    threshold = compressor.relevance_threshold
    assert sum(s.max() < threshold for _, s in unrelated) / len(pairs) >= 0.8
    assert sum(s.max() >= threshold for _, s in gold) / len(pairs) >= 0.8


@pytest.mark.slow
def test_nq_smollm2_keeps_the_answer_and_drops_unrelated(embedder, data_dir) -> None:  # type: ignore[no-untyped-def]
    compressor = AbstractiveCompressor(embedder=embedder, device="cpu")
    pairs = _nq_pairs(data_dir, 5)
    items = [(a.question, a.documents) for a, _ in pairs] + [(a.question, b.documents) for a, b in pairs]
    results = compressor.compress_batch(items, target_tokens=64)
    gold, unrelated = results[:5], results[5:]
    assert sum(contains_answer(r.text, a.answers) for r, (a, _) in zip(gold, pairs, strict=True)) >= 3
    assert sum(r.text == "" for r in unrelated) >= 4
    assert all(r.compressed_tokens <= 64 for r in results)


def test_gate_applies_even_within_budget(tiny_lms, embedder) -> None:  # type: ignore[no-untyped-def]
    compressor = AbstractiveCompressor(tiny_lms[0], embedder=embedder, device="cpu", dtype="float32")
    off_topic = compressor.compress(DOCS[1:], "Which film won the Academy Award for Best Picture in 1994?",
                                    target_tokens=500)
    assert off_topic.text == "" and off_topic.extra["selective_augmentation"] is True
    on_topic = compressor.compress(DOCS[:1], QUESTION, target_tokens=500)
    assert on_topic.text == DOCS[0] and on_topic.strategy.startswith("passthrough")


def _request(query, docs, budget):  # type: ignore[no-untyped-def]
    from contextzip.compressors.base import as_documents
    from contextzip.tokens import get_token_counter
    from contextzip.types import CompressionRequest

    counter = get_token_counter()
    documents = tuple(as_documents(docs))
    counts = tuple(counter.count_many([d.text for d in documents]))
    return CompressionRequest(documents, query, budget, sum(counts), counts, counter, "\n\n")
