"""The conformance suite every compressor passes, in the manner of langchain-core's standard tests.

A plugin author subclasses :class:`CompressorConformance` in a pytest module and provides the compressor::

    import pytest
    from contextzip.testing.conformance import CompressorConformance

    class TestMyCompressor(CompressorConformance):
        extractive = True          # output is a faithful subsequence of the input

        @pytest.fixture
        def compressor(self):
            return MyCompressor()

Every ``test_*`` method then runs against it. The checks, each of which a real bug can fail:

* the output never exceeds the budget, over random documents and budgets (hypothesis, derandomised so CI is
  repeatable; ``CONTEXTZIP_CONFORMANCE_EXAMPLES`` raises the example count for a longer nightly run);
* every input document is accounted for, in input order, with consistent status and token counts;
* extractive output is a faithful subsequence of the source (each kept span is the source's own characters);
* ``compress_batch`` equals per-item ``compress``, and really batches: a batch of N items makes no more engine
  passes than one item does (counted on :meth:`contextzip.engine.ScoringEngine.run`);
* ``acompress`` / ``acompress_batch`` equal ``compress``;
* empty, whitespace-only and within-budget inputs; per-item budgets in one ``compress_batch`` call.

Needs ``pytest`` and ``hypothesis`` (``pip install 'contextzip-rag[dev]'``).
"""

from __future__ import annotations

import asyncio
import os
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextzip.compressors.base import BaseCompressor
from contextzip.types import CompressionResult, DocumentStatus

__all__ = ["CompressorConformance", "SAMPLE_DOCUMENTS", "SAMPLE_QUERY", "count_engine_passes",
           "is_faithful_subsequence"]

SAMPLE_QUERY = "Who received the first Nobel Prize in Physics, and when?"
SAMPLE_DOCUMENTS = [
    {"id": "nobel", "text": "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of "
     "Germany, who received 150,782 SEK. John Bardeen is the only laureate to win the prize twice, in 1956 and 1972. "
     "Maria Goeppert-Mayer was the second woman to win it.", "metadata": {"title": "Nobel Prize in Physics"}},
    {"id": "wind", "text": "The south west wind blows across Nigeria between June and September. It brings the "
     "rainy season to the coast. In the dry season the harmattan blows from the Sahara.",
     "metadata": {"title": "Climate of Nigeria"}},
    {"id": "paris", "text": "Paris is the capital of France. It is known for its museums, its cafés and the Eiffel "
     "Tower, built for the 1889 World's Fair.", "metadata": {"title": "Paris"}},
]

_EXAMPLES = int(os.environ.get("CONTEXTZIP_CONFORMANCE_EXAMPLES", "8"))
_WORDS = ["Röntgen", "Nobel", "prize", "physics", "1901", "the", "was", "awarded", "Germany", "wind", "blows",
          "rain", "season", "Paris", "France", "capital", "museum", "tower", "1889", "of", "and", "in", "a",
          "3.14", "U.S.", "(NATO)", "e-mail", "café", "東京", "😀"]
_sentence = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=14).map(lambda ws: " ".join(ws) + ".")
_document = st.lists(_sentence, min_size=1, max_size=5).map(" ".join)
_documents = st.lists(st.one_of(_document, st.sampled_from(["", "   "])), min_size=1, max_size=5)


@contextmanager
def count_engine_passes() -> Any:
    """Count :meth:`ScoringEngine.run` calls (model passes) made inside the ``with`` block: ``calls[0]``."""
    from contextzip.engine import ScoringEngine

    calls = [0]
    original = ScoringEngine.run

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    ScoringEngine.run = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ScoringEngine.run = original  # type: ignore[method-assign]


def is_faithful_subsequence(kept: str, source: str, elision: str | None = None) -> bool:
    """Every whitespace-separated piece of ``kept`` occurs in ``source``, in order (faithful extraction); pieces
    that are the compressor's ``elision`` marker are skipped."""
    pos = 0
    marker = elision.strip() if elision else None
    for piece in kept.split():
        if marker and piece == marker:
            continue
        found = source.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


class CompressorConformance:
    """Subclass in a test module and provide a ``compressor`` fixture (see the module docstring)."""

    #: the output is made of the source's own characters (every extractive compressor)
    extractive: bool = True
    #: the output fills at least 95% of the budget when the input is larger (exact-budget extractive methods)
    fills_budget: bool = False

    @pytest.fixture
    def compressor(self) -> BaseCompressor:
        raise NotImplementedError("provide a `compressor` fixture that returns the compressor under test")

    # --- helpers ---------------------------------------------------------------------------------------

    def check_result(self, compressor: BaseCompressor, result: CompressionResult, documents: list[Any]) -> None:
        counter = compressor.token_counter
        texts = [d["text"] if isinstance(d, dict) else d for d in documents]
        assert isinstance(result, CompressionResult)
        self.check_compressed_tokens(compressor, result)
        assert result.compressed_tokens <= result.target_tokens, "the budget was exceeded"
        assert len(result.documents) == len(texts), "an input document is missing from the result"
        for i, (doc, text) in enumerate(zip(result.documents, texts, strict=True)):
            assert doc.index == i
            assert doc.original_tokens == counter.count(text)
            assert (doc.status is DocumentStatus.DROPPED) == (not doc.text.strip())
            if doc.status is DocumentStatus.KEPT and self.extractive:
                assert doc.text == text
            if self.extractive:
                assert is_faithful_subsequence(doc.text, text, compressor.elision), \
                    f"document {i}: output is not a subsequence of its source"
        if self.extractive:
            for d in result.documents:
                if d.text:
                    assert d.text in result.text
        if result.kept_spans is not None:
            for span in result.kept_spans:
                assert 0 <= span.start < span.end <= len(texts[span.doc])
                assert texts[span.doc][span.start:span.end].strip()
        for d in result.documents:
            assert d.score is None or 0.0 <= d.score <= 1.0, f"document score {d.score} is not in [0, 1]"

    def check_compressed_tokens(self, compressor: BaseCompressor, result: CompressionResult) -> None:
        """``compressed_tokens`` is the real token count of ``text``. A compressor whose output is not text (gists:
        ``text`` is a prompt fragment with placeholders) overrides this with what it counts instead."""
        assert compressor.token_counter.count(result.text) == result.compressed_tokens, \
            "compressed_tokens is not the real count"

    # --- the checks ------------------------------------------------------------------------------------

    def test_budget_and_accounting_hold_for_random_inputs(self, compressor: BaseCompressor) -> None:
        @settings(max_examples=_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(docs=_documents, budget=st.integers(1, 60), with_query=st.booleans())
        def check(docs: list[str], budget: int, with_query: bool) -> None:
            query = SAMPLE_QUERY if with_query else None
            result = compressor.compress(docs, query, target_tokens=budget)
            self.check_result(compressor, result, docs)
            if self.fills_budget and result.original_tokens > budget:
                assert result.compressed_tokens >= 0.95 * budget or result.under_budget_reason

        check()

    @pytest.mark.parametrize("rate", [0.2, 0.5])
    def test_sample_documents(self, compressor: BaseCompressor, rate: float) -> None:
        result = compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, rate=rate)
        self.check_result(compressor, result, SAMPLE_DOCUMENTS)
        assert [d.id for d in result.documents] == ["nobel", "wind", "paris"]
        assert result.compressed_tokens < result.original_tokens

    def test_batch_equals_single_and_batches_engine_passes(self, compressor: BaseCompressor) -> None:
        items = [(SAMPLE_QUERY, SAMPLE_DOCUMENTS), ("When does the wind blow?", SAMPLE_DOCUMENTS[1:]),
                 (None, SAMPLE_DOCUMENTS[2:])]
        compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=25)  # warm caches and models
        with count_engine_passes() as one:
            compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=25)
        with count_engine_passes() as many:
            batch = compressor.compress_batch(items, target_tokens=25)
        single = [compressor.compress(d, q, target_tokens=25) for q, d in items]
        assert [r.text for r in batch] == [r.text for r in single]
        assert many[0] <= one[0], f"{len(items)} items took {many[0]} engine passes, one item {one[0]}"

    def test_per_item_budgets(self, compressor: BaseCompressor) -> None:
        items = [(SAMPLE_QUERY, SAMPLE_DOCUMENTS), (SAMPLE_QUERY, SAMPLE_DOCUMENTS)]
        results = compressor.compress_batch(items, target_tokens=[20, 60])
        assert [r.target_tokens for r in results] == [20, 60]
        for r in results:
            self.check_result(compressor, r, SAMPLE_DOCUMENTS)
        assert results[0].text == compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=20).text
        by_rate = compressor.compress_batch(items, rate=[0.2, 0.6])
        assert by_rate[0].target_tokens < by_rate[1].target_tokens
        with pytest.raises(ValueError, match="one per item"):
            compressor.compress_batch(items, target_tokens=[20])

    def test_async_equals_sync(self, compressor: BaseCompressor) -> None:
        sync = compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=30)

        async def run() -> tuple[CompressionResult, list[CompressionResult]]:
            one = await compressor.acompress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=30)
            many = await compressor.acompress_batch([(SAMPLE_QUERY, SAMPLE_DOCUMENTS)], target_tokens=30)
            return one, many

        one, many = asyncio.run(run())
        assert one.text == sync.text == many[0].text

    def test_empty_whitespace_and_within_budget_inputs(self, compressor: BaseCompressor) -> None:
        empty = compressor.compress([], SAMPLE_QUERY, target_tokens=10)
        assert empty.text == "" and empty.documents == [] and empty.compressed_tokens == 0
        blank = compressor.compress(["", "  \n "], SAMPLE_QUERY, target_tokens=10)
        assert blank.text == "" and [d.status for d in blank.documents] == [DocumentStatus.DROPPED] * 2
        small = ["Röntgen won the first Nobel Prize in Physics in 1901."]
        fits = compressor.compress(small, SAMPLE_QUERY, target_tokens=500)
        self.check_result(compressor, fits, small)
        if self.extractive:
            assert fits.text == small[0] and fits.documents[0].status is DocumentStatus.KEPT

    def test_warm_up_is_idempotent(self, compressor: BaseCompressor) -> None:
        compressor.warm_up()
        compressor.warm_up()
        assert compressor.compress(SAMPLE_DOCUMENTS, SAMPLE_QUERY, target_tokens=20).compressed_tokens <= 20

    def test_inputs_are_not_mutated(self, compressor: BaseCompressor) -> None:
        import copy

        docs = copy.deepcopy(SAMPLE_DOCUMENTS)
        compressor.compress(docs, SAMPLE_QUERY, target_tokens=20)
        assert docs == SAMPLE_DOCUMENTS
