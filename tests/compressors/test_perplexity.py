"""perplexity / long-perplexity: phrases, exact-budget assembly, the batched LM passes, the real SmolLM2."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextzip.compressors.perplexity import (
    LongPerplexityCompressor,
    PerplexityCompressor,
    split_phrases,
)
from contextzip.eval.metrics import contains_answer
from contextzip.types import DocumentStatus

DOCS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the "
    "engineer Gustave Eiffel, whose company designed and built the tower.",
    "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany, who received "
    "150,782 SEK. John Bardeen is the only laureate to win the prize twice, in 1956 and 1972.",
    "Paris is the capital and most populous city of France. It has an area of 105 square kilometres and a "
    "population of over two million people.",
]
QUESTION = "Who got the first Nobel prize in physics?"


@pytest.fixture(scope="module")
def tiny(tiny_lms):  # type: ignore[no-untyped-def]
    return tiny_lms[0]  # the causal LM (tests/compressors/conftest.py)


def _words_in_order(output: str, source: str) -> bool:
    words, pos = source.split(), 0
    for w in output.split():
        while pos < len(words) and words[pos] != w:
            pos += 1
        if pos == len(words):
            return False
        pos += 1
    return True


def test_split_phrases_joins_names_and_numbers() -> None:
    text = "It was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany. Bank of America (BoA) is big."
    got = [s.text for s in split_phrases(text)]
    assert "Wilhelm Conrad Röntgen," in got and "Bank of America" in got and "(BoA)" in got
    assert "in" in got and "of" in got  # lower-case words stay single


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AB 12 of,.\n(")), max_size=80))
def test_split_phrases_spans_are_faithful(text: str) -> None:
    spans = split_phrases(text)
    last = 0
    for s in spans:
        assert s.text == text[s.start:s.end] and s.start >= last and s.text.strip() == s.text
        assert text[last:s.start].strip() == ""
        last = s.end
    assert text[last:].strip() == ""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(1, 90), seed=st.integers(0, 10_000), relevance=st.booleans())
def test_phrase_fitting_never_exceeds_budget_and_is_faithful(counter, budget: int, seed: int,
                                                              relevance: bool) -> None:
    import random

    from contextzip.budget import Unit, fit_budget

    rng = random.Random(seed)
    units = [Unit(d, s.start, s.end) for d, doc in enumerate(DOCS) for s in split_phrases(doc)]
    order = [2, 0, 1] if relevance else None
    fit = fit_budget(DOCS, units, [rng.random() for _ in units], budget, counter, "\n\n", doc_order=order)
    text, per_doc, full, n = fit.text, fit.doc_texts, fit.doc_full, fit.tokens
    assert n == counter.count(text) <= budget
    assert n >= min(budget, counter.count("\n\n".join(DOCS))) - 6  # the budget is used
    for d, doc in enumerate(DOCS):
        assert _words_in_order(per_doc[d], doc)
        assert full[d] == (per_doc[d] == doc)


@pytest.mark.parametrize("cls", [PerplexityCompressor, LongPerplexityCompressor])
def test_compressors_with_a_tiny_lm(tiny, counter, cls) -> None:  # type: ignore[no-untyped-def]
    compressor = cls(tiny, device="cpu", dtype="float32")
    results = compressor.compress_batch([(QUESTION, DOCS), (None, DOCS[:2]), (QUESTION, DOCS[0])], rate=0.4)
    for res, docs in zip(results, [DOCS, DOCS[:2], DOCS[:1]], strict=True):
        assert counter.count(res.text) == res.compressed_tokens <= res.target_tokens
        assert res.compressed_tokens >= 0.9 * res.target_tokens
        assert len(res.documents) == len(docs)
        for d, doc in zip(res.documents, docs, strict=True):
            assert _words_in_order(d.text, doc)
            assert (d.status is DocumentStatus.DROPPED) == (d.text == "")
    if cls is LongPerplexityCompressor:
        assert results[0].document_ranking and "contrastive" in results[0].strategy
        assert "no question" in results[1].strategy


def test_long_perplexity_reorders_by_relevance(tiny, counter) -> None:  # type: ignore[no-untyped-def]
    compressor = LongPerplexityCompressor(tiny, device="cpu", dtype="float32", reorder="relevance",
                                          candidate_factor=3.0)
    res = compressor.compress(DOCS, QUESTION, rate=0.9)
    ranking = [int(i) for i in res.document_ranking]
    kept = [d for d in ranking if res.documents[d].text]
    positions = [res.text.index(res.documents[d].text) for d in kept]
    assert positions == sorted(positions)


def test_long_perplexity_bridges_to_the_document_a_top_document_names(tiny, counter) -> None:  # type: ignore[no-untyped-def]
    """The second hop: a titled document named by the best-ranked one moves up the ranking; bridge=0 is the plain
    LM ranking, and untitled documents are ranked as before."""
    from contextzip.types import Document

    docs = [Document(t, str(i), {"title": title}) for i, (t, title) in enumerate(zip(DOCS, ["Eiffel Tower", "Nobel Prize in Physics", "Paris"], strict=True))]
    plain = LongPerplexityCompressor(tiny, device="cpu", dtype="float32", bridge=0.0)
    ranking = plain.compress(docs, QUESTION, rate=0.5).document_ranking
    top, last = ranking[0], ranking[-1]
    # Make the best document name the worst one's title: the worst one must move up.
    named = [Document(d.text + (f" See also {docs[int(last)].metadata['title']}." if d.id == top else ""), d.id,
                      d.metadata) for d in docs]
    bridged = LongPerplexityCompressor(scorer=plain.scorer, bridge=10.0).compress(named, QUESTION, rate=0.5)
    assert bridged.document_ranking.index(last) < len(docs) - 1
    assert bridged.compressed_tokens <= bridged.target_tokens


@pytest.mark.parametrize("kwargs", [{"document_priority": -1}, {"contrast_weight": 1.5}, {"candidate_factor": 0.5},
                                    {"reorder": "sort"}, {"bridge": -0.5}, {"bridge": True}])
def test_invalid_options(tiny, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LongPerplexityCompressor(tiny, **kwargs)


def test_nq_zero_budget_violations(tiny, data_dir, counter) -> None:  # type: ignore[no-untyped-def]
    """Exactness does not depend on the model: real NQ passages at rate 0.25, a tiny LM."""
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("nq", str(data_dir), limit=25)
    for cls in (PerplexityCompressor, LongPerplexityCompressor):
        results = cls(tiny, device="cpu", dtype="float32").compress_batch(
            [(e.question, e.documents) for e in examples], rate=0.25)
        assert all(counter.count(r.text) <= r.target_tokens for r in results)


@pytest.mark.slow
def test_smollm2_keeps_the_answer_of_the_relevant_document(counter) -> None:
    compressor = LongPerplexityCompressor(device="cpu", dtype="float32")
    res = compressor.compress(DOCS, QUESTION, rate=0.5)
    assert res.compressed_tokens <= res.target_tokens
    assert res.document_ranking[0] == "1"
    assert contains_answer(res.text, ["Röntgen"])
    plain = PerplexityCompressor(scorer=compressor.scorer).compress(DOCS, rate=0.5)
    assert plain.compressed_tokens <= plain.target_tokens and plain.text
