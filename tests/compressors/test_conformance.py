"""Every registered compressor passes the conformance suite (contextzip.testing.conformance).

Model-based compressors run in float32 here: in bfloat16 a sentence embedded inside a differently padded batch
can differ in the last bits, so near-tied scores may order differently alone and in a batch.
"""

from __future__ import annotations

import pytest

from contextzip.model_registry import model_available
from contextzip.registry import COMPRESSORS, load_compressor
from contextzip.testing.conformance import CompressorConformance

FP32 = {"device": "cpu", "dtype": "float32"}
needs_student = pytest.mark.skipif(not model_available("contextzip-token-clf"), reason="token classifier absent")

COVERED: set[str] = set()


@pytest.fixture(scope="module")
def query_guided32():  # type: ignore[no-untyped-def]
    return load_compressor("query-guided", **FP32)


def covers(name: str):  # type: ignore[no-untyped-def]
    COVERED.add(name)
    return lambda cls: cls


@covers("truncate")
class TestTruncate(CompressorConformance):
    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        return load_compressor("truncate")


@covers("random-sentences")
class TestRandomSentences(CompressorConformance):
    fills_budget = True

    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        return load_compressor("random-sentences")


@covers("bm25-sentences")
class TestBM25Sentences(CompressorConformance):
    fills_budget = True

    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        return load_compressor("bm25-sentences")


@covers("embedding-sentences")
class TestEmbeddingSentences(CompressorConformance):
    fills_budget = True

    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        return load_compressor("embedding-sentences", **FP32)


@covers("query-guided")
class TestQueryGuided(CompressorConformance):
    fills_budget = True

    @pytest.fixture
    def compressor(self, query_guided32):  # type: ignore[no-untyped-def]
        return query_guided32


@covers("token-classification")
@needs_student
class TestTokenClassification(CompressorConformance):
    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        return load_compressor("token-classification", **FP32)


@covers("token-classification-query")
@needs_student
class TestTokenClassificationQuery(CompressorConformance):
    @pytest.fixture
    def compressor(self, query_guided32):  # type: ignore[no-untyped-def]
        return load_compressor("token-classification-query", sentence_scorer=query_guided32.scorer, **FP32)


@covers("coarse-to-fine")
@needs_student
class TestCoarseToFine(CompressorConformance):
    @pytest.fixture
    def compressor(self, query_guided32):  # type: ignore[no-untyped-def]
        return load_compressor("coarse-to-fine", sentence_scorer=query_guided32.scorer, **FP32)


@covers("perplexity")
class TestPerplexity(CompressorConformance):
    @pytest.fixture
    def compressor(self, tiny_lms):  # type: ignore[no-untyped-def]
        return load_compressor("perplexity", model_name_or_path=tiny_lms[0], device="cpu", dtype="float32")


@covers("long-perplexity")
class TestLongPerplexity(CompressorConformance):
    @pytest.fixture
    def compressor(self, tiny_lms):  # type: ignore[no-untyped-def]
        return load_compressor("long-perplexity", model_name_or_path=tiny_lms[0], device="cpu", dtype="float32")


@covers("abstractive")
class TestAbstractive(CompressorConformance):
    extractive = False

    @pytest.fixture
    def compressor(self, tiny_lms, query_guided32):  # type: ignore[no-untyped-def]
        return load_compressor("abstractive", model_name_or_path=tiny_lms[0], embedder=query_guided32.embedder,
                               device="cpu", dtype="float32", max_new_tokens=12)


def test_every_registered_compressor_has_a_conformance_class() -> None:
    assert set(COMPRESSORS) <= COVERED, f"no conformance class for {sorted(set(COMPRESSORS) - COVERED)}"
