"""Every registered compressor passes the conformance suite (contextzip.testing.conformance).

Model-based compressors run in float32 here: in bfloat16 a sentence embedded inside a differently padded batch
can differ in the last bits, so near-tied scores may order differently alone and in a batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from contextzip.model_registry import model_available
from contextzip.registry import COMPRESSORS, load_compressor
from contextzip.testing.conformance import CompressorConformance

FP32 = {"device": "cpu", "dtype": "float32"}
needs_student = pytest.mark.skipif(not model_available("contextzip-token-clf"), reason="token classifier absent")


@pytest.fixture(scope="module")
def query_guided32():  # type: ignore[no-untyped-def]
    return load_compressor("query-guided", **FP32)


class Registered(CompressorConformance):
    """A registered compressor by name; ``kwargs`` may name fixtures: ``"@tiny_lm"`` is the tiny causal LM's
    path, ``"@scorer"`` / ``"@embedder"`` the float32 query-guided scorer / embedder."""

    name: ClassVar[str] = ""
    kwargs: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def compressor(self, request, query_guided32):  # type: ignore[no-untyped-def]
        if self.name == "query-guided":
            return query_guided32
        values = {"@scorer": lambda: query_guided32.scorer, "@embedder": lambda: query_guided32.embedder,
                  "@tiny_lm": lambda: request.getfixturevalue("tiny_lms")[0]}
        kwargs = {k: values[v]() if isinstance(v, str) and v in values else v for k, v in self.kwargs.items()}
        return load_compressor(self.name, **kwargs)


class TestTruncate(Registered):
    name = "truncate"


class TestRandomSentences(Registered):
    name, fills_budget = "random-sentences", True


class TestBM25Sentences(Registered):
    name, fills_budget = "bm25-sentences", True


class TestEmbeddingSentences(Registered):
    name, fills_budget, kwargs = "embedding-sentences", True, FP32


class TestQueryGuided(Registered):
    name, fills_budget = "query-guided", True


class TestQueryGuidedFirstStage(Registered):
    """The static first stage on every request with a question: MiniLM reads at most 16 word pieces of one."""

    name, fills_budget = "query-guided", True

    @pytest.fixture
    def compressor(self, query_guided32):  # type: ignore[no-untyped-def,override]
        return load_compressor(self.name, embedder=query_guided32.embedder, dense_tokens=16)

    def test_the_first_stage_runs(self, compressor) -> None:  # type: ignore[no-untyped-def]
        docs = ["The lighthouse was first lit in 1872. Its keepers kept a daily log of ships and storms.",
                "Tea is harvested by hand in the hills. The leaves are dried in the sun for two days."]
        result = compressor.compress(docs, "When was the lighthouse first lit?", target_tokens=12)
        assert "static first stage" in result.strategy and "1872" in result.text


@needs_student
class TestTokenClassification(Registered):
    name, kwargs = "token-classification", FP32


@needs_student
class TestTokenClassificationQuery(Registered):
    name, kwargs = "token-classification-query", {"sentence_scorer": "@scorer", **FP32}


@needs_student
class TestCoarseToFine(Registered):
    name, kwargs = "coarse-to-fine", {"sentence_scorer": "@scorer", **FP32}


class TestPerplexity(Registered):
    name, kwargs = "perplexity", {"model_name_or_path": "@tiny_lm", **FP32}


class TestLongPerplexity(Registered):
    name, kwargs = "long-perplexity", {"model_name_or_path": "@tiny_lm", **FP32}


class TestAbstractive(Registered):
    name, extractive = "abstractive", False
    kwargs = {"model_name_or_path": "@tiny_lm", "embedder": "@embedder", "max_new_tokens": 12, **FP32}


class TestGist(Registered):
    """Gists with a seeded random projector (the trained one may be absent). Its ``text`` is a prompt fragment, one
    placeholder per kept segment, and ``compressed_tokens`` counts the decoder positions of the vectors: that one
    check counts positions instead of the fragment's tokens; every other check applies as it is."""

    name, extractive = "gist", False

    @pytest.fixture
    def compressor(self):  # type: ignore[no-untyped-def]
        import torch

        from contextzip.gist.projector import GistProjector

        torch.manual_seed(0)
        return load_compressor("gist", projector=GistProjector(), **FP32)

    def check_compressed_tokens(self, compressor, result) -> None:  # type: ignore[no-untyped-def]
        from contextzip.gist.embeds import GIST_PLACEHOLDER

        assert result.compressed_tokens == result.positions == sum(s.k for s in result.segments)
        assert result.text.count(GIST_PLACEHOLDER) == len(result.segments) == len(result.vectors)


def test_every_registered_compressor_has_a_conformance_class() -> None:
    covered = {cls.name for cls in Registered.__subclasses__()}
    assert set(COMPRESSORS) <= covered, f"no conformance class for {sorted(set(COMPRESSORS) - covered)}"
