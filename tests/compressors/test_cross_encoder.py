"""CrossEncoderScorer: Hugging Face cross-encoders / rerankers (tiny random ones built here) and contextzip's
relevance model plug into query-guided and coarse-to-fine; min_relevance shrinks the output; in-sample flag."""

from __future__ import annotations

import numpy as np
import pytest

from contextzip.compressors.cross_encoder import (
    CrossEncoderScorer,
    Relevance,
    build_relevance_model,
    save_relevance_model,
)
from contextzip.compressors.pipeline import CoarseToFineCompressor
from contextzip.compressors.query_guided import QueryGuidedCompressor
from contextzip.model_registry import resolve_model_path
from contextzip.types import Document

DOCS = [
    Document("Paris is the capital of France. It has many museums. The Seine flows through it.", "0",
             {"title": "Paris"}),
    Document("Bananas are yellow. They grow in warm places. Monkeys like them a lot.", "1", {"title": "Banana"}),
]
QUERY = "What is the capital of France?"


def _tiny(tmp_path, kind: str, num_labels: int) -> str:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    small = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, num_labels=num_labels, pad_token_id=0)
    if kind == "bert":
        model = transformers.BertForSequenceClassification(transformers.BertConfig(**small))
    else:  # the class of BAAI/bge-reranker-*: one token type, positions offset by the padding index
        model = transformers.XLMRobertaForSequenceClassification(
            transformers.XLMRobertaConfig(**small, type_vocab_size=1, max_position_embeddings=520))
    folder = tmp_path / f"{kind}-{num_labels}"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize(("kind", "num_labels"), [("bert", 1), ("xlm-roberta", 1), ("bert", 2)])
def test_hub_cross_encoder_classes_plug_in(tmp_path, kind: str, num_labels: int) -> None:
    path = _tiny(tmp_path, kind, num_labels)
    scorer = CrossEncoderScorer(path)
    for comp in (QueryGuidedCompressor(scorer=scorer), CoarseToFineCompressor(sentence_scorer=path)):
        result = comp.compress(DOCS, QUERY, target_tokens=12)
        assert 0 < result.compressed_tokens <= 12
    rel, = scorer.probabilities([_sentences()])
    p, d = rel.sentences, rel.documents
    assert ((p >= 0) & (p <= 1)).all() and d.shape == (2,) and d.max() == pytest.approx(p.max())
    assert scorer.trained_on == ()


def _sentences():  # type: ignore[no-untyped-def]
    from contextzip.compressors.extractive import segment_sentences
    from contextzip.tokens import get_token_counter
    from contextzip.types import CompressionRequest

    counter = get_token_counter(None)
    return segment_sentences(CompressionRequest(tuple(DOCS), QUERY, 10, 40, (20, 20), counter, "\n\n"))


class _Fixed(CrossEncoderScorer):
    """Keep probabilities by hand: the first sentence of each document is relevant."""

    def warm_up(self) -> None:
        return None

    def probabilities(self, batches):  # type: ignore[no-untyped-def]
        return [Relevance(np.where(b.first_in_doc(), 0.9, 0.1) * np.where(b.doc_of() == 0, 1.0, 0.5),
                          np.asarray([0.9, 0.2])) for b in batches]


def test_min_relevance_drops_irrelevant_within_budget() -> None:
    comp = QueryGuidedCompressor(scorer=_Fixed("unused", min_relevance=0.5), min_relevance=0.5)
    result = comp.compress(DOCS, QUERY, rate=1.0)  # no budget pressure
    assert result.text.strip() == "Paris is the capital of France."
    assert result.threshold == 0.5
    assert "min_relevance" in (result.under_budget_reason or "")
    full = QueryGuidedCompressor(scorer=_Fixed("unused")).compress(DOCS, QUERY, rate=1.0)
    assert full.compressed_tokens > result.compressed_tokens
    with pytest.raises(ValueError, match="min_relevance"):
        CrossEncoderScorer("unused", min_relevance=2.0)


def test_relevance_model_windows_and_in_sample(tmp_path, data_dir) -> None:
    from contextzip.eval.runner import run_eval

    config = {"base_model": "minilm", "trainable_layers": 1, "max_length": 64, "eval_sets_trained_on": ["squad"],
              "span": True}
    save_relevance_model(build_relevance_model(resolve_model_path("minilm"), config), config, str(tmp_path))
    scorer = CrossEncoderScorer(str(tmp_path))
    rel, = scorer.probabilities([_sentences()])
    p, d = rel.sentences, rel.documents
    assert p.shape == (6,) and d.shape == (2,) and ((p > 0) & (p < 1)).all()
    starts, ends, probs = rel.answer_spans[0]  # the first sentence's word pieces, as document characters
    assert DOCS[0].text[starts[0]:ends[0]] == "paris" or DOCS[0].text[starts[0]:ends[0]] == "Paris"
    assert len(starts) == len(probs) and ends[-1] <= len(DOCS[0].text)
    short = QueryGuidedCompressor(scorer=scorer).compress(DOCS, QUERY, target_tokens=4)  # windows around answers
    assert 0 < short.compressed_tokens <= 4
    comp = QueryGuidedCompressor(scorer=scorer)
    squad, _ = run_eval("squad", comp, rate=0.25, limit=2, data_dir=str(data_dir))
    nq, _ = run_eval("nq", comp, rate=0.25, limit=2, data_dir=str(data_dir), split="report")
    assert squad["in_sample"] is True and nq["in_sample"] is False and nq["split"] == "report"
    assert squad["budget_violations"] == 0


def test_answer_window_grows_around_the_likely_answer() -> None:
    from contextzip.budget import Unit
    from contextzip.compressors.cross_encoder import SpanScored, answer_windows
    from contextzip.scorers import Sentences
    from contextzip.tokens import get_token_counter
    from contextzip.types import CompressionRequest

    text = "The first Nobel Prize in Physics went to Wilhelm Conrad Röntgen in 1901 for his discovery."
    counter = get_token_counter(None)
    req = CompressionRequest((Document(text),), "who got the first nobel prize in physics", 6,
                             counter.count(text), (counter.count(text),), counter, "\n\n")
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", text)]
    starts = np.asarray([s for s, _ in words])
    ends = np.asarray([e for _, e in words])
    probs = np.asarray([0.9 if text[s:e] in ("Wilhelm", "Conrad", "Röntgen") else 0.01 for s, e in words])
    sentences = Sentences(req, (Unit(0, 0, len(text)),), (text,))
    window = answer_windows(sentences, SpanScored(np.ones(1), None, "", None, ((starts, ends, probs),)))
    s, e = window(0, 0, len(text), 6)
    assert "Wilhelm Conrad Röntgen" in text[s:e] and counter.count(text[s:e]) <= 6
    assert answer_windows(sentences, SpanScored(np.ones(1))) is None


def test_reranked_scorer_reads_the_shortlist_only(tmp_path) -> None:
    from contextzip.compressors.reranked import RerankedScorer
    from contextzip.scorers import Scored

    class Base:
        def warm_up(self) -> None:
            return None

        def score_sentences(self, batches):  # type: ignore[no-untyped-def]
            return [Scored(np.zeros(len(b.units)), np.asarray([1.0, 0.0]), "base") for b in batches]

    seen: list[int] = []

    class Cross(_Fixed):
        def probabilities(self, batches):  # type: ignore[no-untyped-def]
            seen.extend(len(b.units) for b in batches)
            return super().probabilities(batches)

    scorer = RerankedScorer(Base(), Cross("unused"), top_documents=1, weight=1.0, min_relevance=0.5)
    comp = QueryGuidedCompressor(scorer=scorer)
    comp.compresses_within_budget, comp.min_relevance = True, 0.5
    result = comp.compress(DOCS, QUERY, rate=1.0)
    assert seen == [3]  # only the first document's sentences were cross-encoded
    assert result.text.strip() == "Paris is the capital of France."
    path = _tiny(tmp_path, "bert", 1)
    assert QueryGuidedCompressor(rerank=path).compress(DOCS, QUERY, target_tokens=12).compressed_tokens <= 12
    assert CoarseToFineCompressor(rerank=path).compress(DOCS, QUERY, target_tokens=12).compressed_tokens <= 12


def test_answer_span_signals_reach_sentence_ranking_and_fine_step() -> None:
    from contextzip.compressors.cross_encoder import CrossEncoderWeights, SpanScored
    from contextzip.compressors.token_classification_query import answer_proximity
    from contextzip.compressors.word_units import Units

    piece = (np.asarray([0, 6]), np.asarray([5, 9]), np.asarray([0.2, 0.8]))
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    rel = Relevance(np.asarray([0.5, 0.6]), np.asarray([1.0]), (piece, empty))
    assert rel.best_answer().tolist() == [0.8, 0.0]
    assert Relevance(np.asarray([0.5]), np.asarray([1.0])).best_answer().tolist() == [0.0]

    class Spans(_Fixed):
        def probabilities(self, batches):  # type: ignore[no-untyped-def]
            n = [len(b.units) for b in batches]
            spans = [tuple([piece] + [empty] * (k - 1)) for k in n]
            return [Relevance(np.full(k, 0.5), np.asarray([0.5, 0.5]), s) for k, s in zip(n, spans, strict=True)]

    b = _sentences()
    plain, = Spans("unused").score_sentences([b])
    boosted, = Spans("unused", weights=CrossEncoderWeights(answer=1.0)).score_sentences([b])
    assert boosted.unit_scores[0] - plain.unit_scores[0] == pytest.approx(0.8)
    assert np.allclose(boosted.unit_scores[1:], plain.unit_scores[1:])
    sub = boosted.subset([0, 2])  # the spans follow the kept sentences (coarse-to-fine's coarse step)
    assert isinstance(sub, SpanScored) and sub.answer_spans[0] is piece and sub.answer_spans[1] is empty

    # words 0..5 of one document; the answer piece starts in word 3: the boost peaks there and falls off
    starts, ends = np.arange(6) * 10, np.arange(6) * 10 + 5
    units = Units(starts, ends, np.zeros(6), np.zeros(6, bool))
    near = answer_proximity(units, [(np.asarray([31]), np.asarray([34]), np.asarray([0.9]))])
    assert int(np.argmax(near)) == 3 and near[3] == pytest.approx(0.9)
    assert near[2] == pytest.approx(near[4]) and near[2] > near[1] > near[0] > 0
    assert answer_proximity(units, [empty]).tolist() == [0.0] * 6


def test_min_relevance_cuts_words_of_a_single_document() -> None:
    """One document with min_relevance: the words scoring under word_cut x the best word's score go, even with no
    budget pressure, and the reason says so; word_cut=0 falls back to the sentence cut-off."""
    from contextzip.compressors.pipeline import _cut_words
    from contextzip.compressors.word_units import Units

    units = [Units(np.asarray([0, 5, 9]), np.asarray([4, 8, 12]), np.asarray([0.9, 0.2, 0.5]),
                   np.asarray([False, True, False]))]
    kept, scores = _cut_words(units, [np.asarray([2.0, 0.1, 0.8])], 0.45)
    assert kept[0].starts.tolist() == [0, 5] and scores[0].tolist() == [2.0, 0.1]  # the forced unit stays

    one = [DOCS[0]]
    comp = CoarseToFineCompressor(sentence_scorer=_Fixed("unused", min_relevance=0.5), min_relevance=0.5,
                                  single_document={"word_cut": 0.45})
    result = comp.compress(one, QUERY, rate=1.0)
    assert 0 < result.compressed_tokens < result.original_tokens
    assert "words scoring under 0.45" in (result.under_budget_reason or "")
    assert result.threshold == 0.5
    words = result.text.split()
    assert "Paris" in words or "capital" in words  # the relevant first sentence leads
    pos = 0
    for w in words:  # faithful: kept words in their original order
        pos = DOCS[0].text.find(w, pos)
        assert pos >= 0
    sentences = CoarseToFineCompressor(sentence_scorer=_Fixed("unused", min_relevance=0.5), min_relevance=0.5,
                                       single_document={"word_cut": 0.0}).compress(one, QUERY, rate=1.0)
    assert sentences.text.strip() == "Paris is the capital of France."
    assert "keep probability" in (sentences.under_budget_reason or "")
    several = comp.compress(DOCS, QUERY, rate=1.0)  # several documents: the sentence cut-off, as before
    assert "keep probability" in (several.under_budget_reason or "")


def test_relevance_model_on_onnx_runtime_matches_torch(tmp_path, monkeypatch) -> None:
    """backend="onnx" exports contextzip-relevance once into the cache and gives torch's probabilities (float32,
    within 1e-4); "auto" picks it on a float32 CPU engine; Hugging Face cross-encoders stay on torch."""
    pytest.importorskip("onnxruntime")
    from contextzip.model_registry import model_available

    if not model_available("contextzip-relevance"):
        pytest.skip("contextzip-relevance is not installed")
    import torch

    from contextzip.onnx_relevance import OnnxRelevanceModel, export_relevance_model

    monkeypatch.setenv("CONTEXTZIP_CACHE", str(tmp_path / "cache"))
    path = export_relevance_model("contextzip-relevance")
    assert path.startswith(str(tmp_path)) and export_relevance_model("contextzip-relevance") == path  # once
    from contextzip.engine import ScoringEngine

    # torch in float32 (its "auto" dtype is bfloat16 on a CPU with native bf16 kernels, e.g. AMX Xeons)
    onnx = CrossEncoderScorer(backend="onnx")
    ref = CrossEncoderScorer(backend="torch", engine=ScoringEngine(dtype="float32"))
    assert isinstance(onnx.model.model, OnnxRelevanceModel) and isinstance(ref.model.model, torch.nn.Module)
    got, want = onnx.probabilities([_sentences()])[0], ref.probabilities([_sentences()])[0]
    np.testing.assert_allclose(got.sentences, want.sentences, atol=1e-4)
    np.testing.assert_allclose(got.documents, want.documents, atol=1e-4)
    for a, b in zip(got.answer_spans, want.answer_spans, strict=True):
        assert a[0].tolist() == b[0].tolist()
        np.testing.assert_allclose(a[2], b[2], atol=1e-4)
    assert onnx.trained_on == ref.trained_on == ("squad",)
    engine = ref.engine
    assert CrossEncoderScorer(engine=engine).model.uses_onnx(resolve_model_path("contextzip-relevance")) == (
        engine.device == "cpu" and engine.dtype == torch.float32)
    assert not CrossEncoderScorer(_tiny(tmp_path, "bert", 1), backend="onnx").model.uses_onnx(
        _tiny(tmp_path, "bert", 1))
    with pytest.raises(ValueError, match="backend"):
        CrossEncoderScorer(backend="tensorrt")
