"""TokenClassificationCompressor: LLMLingua-2 parity, exact budgets, faithfulness, protected spans, the student."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextzip.compressors.token_classification import TokenClassificationCompressor, TokenKeepScorer
from contextzip.compressors.token_classification_query import QueryAwareTokenClassificationCompressor
from contextzip.engine import ScoringEngine
from contextzip.model_registry import model_available
from contextzip.testing.conformance import is_faithful_subsequence

# --- a tiny random XLM-RoBERTa token classifier, built offline ------------------------------------------
# No XLM-R tokenizer is available offline, so we train a small Unigram tokenizer (Metaspace pre-tokenizer,
# XLM-R's special tokens at XLM-R's ids) with the `tokenizers` library and wrap it as XLM-R's fast tokenizer.

CORPUS = [
    "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany.",
    "He received 150,782 SEK, which is equal to 7,731,004 SEK in December 2007.",
    "Deadpool 2 is scheduled to be released in the United States on May 18, 2018.",
    "The south west wind blows across Nigeria between July and September, bringing heavy rain.",
    "Meetings start at nine; the budget review follows lunch and the project update closes the day.",
    "Paris is the capital of France and its largest city, with more than two million residents.",
    "Compression keeps the words that matter and drops the rest, within a strict token budget.",
] * 4


def build_tiny_xlmr(folder: pathlib.Path, seed: int = 0) -> pathlib.Path:
    """Save a tokenizer and a randomly initialised XLMRobertaForTokenClassification under ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification, XLMRobertaTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(CORPUS, trainer)
    tokenizer = XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = XLMRobertaConfig(vocab_size=len(tokenizer) + 128, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=600,
                              num_labels=2, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                              architectures=["XLMRobertaForTokenClassification"])
    model = XLMRobertaForTokenClassification(config).eval()
    with torch.no_grad():  # spread the keep probabilities (a random head puts them all near 0.55), so that
        model.classifier.weight.mul_(8.0)  # rounding on another CPU cannot reorder near-equal words
    model.save_pretrained(folder)
    return folder


PARITY_TEXT = (
    "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany. "
    "He received a large sum of money, which was worth far more then. Deadpool is scheduled to be released "
    "in the United States in May. The south west wind blows across Nigeria between July and September, "
    "bringing heavy rain. Meetings start at nine; the budget review follows lunch."
)


@pytest.fixture(scope="module")
def tiny_xlmr(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    # llmlingua picks its code path by model name: the folder name must contain "xlm-roberta-large".
    return build_tiny_xlmr(tmp_path_factory.mktemp("models") / "tiny-xlm-roberta-large")


@pytest.fixture(scope="module")
def tiny_compressor(tiny_xlmr: pathlib.Path) -> TokenClassificationCompressor:
    return TokenClassificationCompressor(str(tiny_xlmr), dtype="float32", boundary_tokens=("[CLS]", "[SEP]"),
                                         keep_entities=False)


def _llmlingua_word_probs(model_path: pathlib.Path, text: str, rate: float) -> tuple[list[str], list[float], list[int]]:
    """Words, word keep probabilities and labels as llmlingua's LLMLingua-2 path computes them."""
    from llmlingua import PromptCompressor

    from contextzip.tokens import seed_tiktoken_cache

    seed_tiktoken_cache("cl100k_base")  # llmlingua counts with gpt-3.5-turbo's encoding
    compressor = PromptCompressor(model_name=str(model_path), device_map="cpu", use_llmlingua2=True)
    captured: list[list[float]] = []
    original = compressor._PromptCompressor__token_prob_to_word_prob

    def spy(token_probs, convert_mode="mean"):  # type: ignore[no-untyped-def]
        out = original(token_probs, convert_mode=convert_mode)
        captured.append([float(p) for p in out])
        return out

    compressor._PromptCompressor__token_prob_to_word_prob = spy
    result = compressor.compress_prompt_llmlingua2([text], rate=rate, return_word_label=True)
    pairs = [p.rsplit(" ", 1) for p in result["fn_labeled_original_prompt"].split("\t\t|\t\t")]
    probs = [p for chunk in captured for p in chunk]
    return [w for w, _ in pairs], probs, [int(label) for _, label in pairs]


@pytest.mark.skipif(importlib.util.find_spec("llmlingua") is None, reason="llmlingua is not installed")
def test_word_probabilities_match_llmlingua2(tiny_xlmr: pathlib.Path, tiny_compressor) -> None:
    words, probs, labels = _llmlingua_word_probs(tiny_xlmr, PARITY_TEXT, rate=0.5)
    ours = tiny_compressor.scorer.score([PARITY_TEXT])[0]
    our_words = [PARITY_TEXT[s:e] for s, e in zip(ours.starts, ours.ends, strict=True)]
    assert our_words == words
    np.testing.assert_allclose(ours.probs, probs, atol=1e-4)

    # Same rate: the kept words agree, apart from the threshold rule (LLMLingua-2: a percentile of the
    # per-chunk probabilities; contextzip: one threshold that meets the budget exactly).
    result = tiny_compressor.compress(PARITY_TEXT, rate=0.5)
    threshold = result.threshold
    kept = {(k.start, k.end) for k in result.kept_spans}
    theirs_kept = [label == 1 for label in labels]
    probs_arr = np.asarray(probs)
    lo = min(threshold, probs_arr[theirs_kept].min())
    hi = max(threshold, probs_arr[~np.asarray(theirs_kept)].max())
    fill = 0  # below both thresholds, contextzip may still keep a short word that fits what the ranking left
    for s, e, p, theirs in zip(ours.starts, ours.ends, probs_arr, theirs_kept, strict=True):
        ours_kept = (int(s), int(e)) in kept
        if p > hi:
            assert ours_kept and theirs
        elif p < lo:
            assert not theirs
            fill += tiny_compressor.token_counter.count(" " + PARITY_TEXT[s:e]) if ours_kept else 0
    assert fill <= 3 and result.compressed_tokens <= round(0.5 * result.original_tokens)


def test_first_token_aggregation(tiny_xlmr: pathlib.Path) -> None:
    engine = ScoringEngine(dtype="float32")
    mean = TokenKeepScorer(str(tiny_xlmr), engine, token_to_word="mean").score([PARITY_TEXT])[0]
    first = TokenKeepScorer(str(tiny_xlmr), engine, token_to_word="first").score([PARITY_TEXT])[0]
    assert np.array_equal(mean.starts, first.starts)
    assert not np.allclose(mean.probs, first.probs)


def test_long_text_is_chunked_on_sentence_boundaries(tiny_xlmr: pathlib.Path) -> None:
    scorer = TokenKeepScorer(str(tiny_xlmr), ScoringEngine(dtype="float32"), max_seq_len=64)
    scorer.warm_up()
    text = " ".join([PARITY_TEXT] * 4)
    ids = scorer._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = np.asarray(ids["offset_mapping"])[:, 0]
    chunks = scorer._chunks(text, starts, scorer._begin[np.asarray(ids["input_ids"])])
    assert chunks[0][0] == 0 and chunks[-1][1] == len(starts)
    assert all(b - a <= 62 for a, b in chunks)
    assert all(chunks[i][1] == chunks[i + 1][0] for i in range(len(chunks) - 1))
    words = scorer.score([text])[0]
    assert len(words.starts) > 100 and np.all(np.diff(words.starts) > 0)


# --- budget and faithfulness ------------------------------------------------------------------------------

WORDS = st.sampled_from("alpha beta gamma delta 1901 Paris, France. (note) x.y@z.org 150,782 the of and".split())
TEXTS = st.lists(WORDS, min_size=1, max_size=60).map(" ".join)


_in_order_subsequence = is_faithful_subsequence


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(TEXTS, min_size=1, max_size=3), rate=st.floats(0.05, 1.0))
def test_budget_and_faithfulness(tiny_compressor, docs: list[str], rate: float) -> None:
    result = tiny_compressor.compress(docs, rate=rate)
    assert tiny_compressor.token_counter.count(result.text) <= result.target_tokens
    for d, doc in zip(result.documents, docs, strict=True):
        assert _in_order_subsequence(d.text, doc)
    if result.original_tokens > result.target_tokens and result.compressed_tokens < 0.95 * result.target_tokens:
        assert result.under_budget_reason


def test_protected_spans_are_kept_or_dropped_whole(tiny_compressor) -> None:
    text = ("Write to first.last@example.org or see https://example.com/docs?page=2 for the "
            '"quoted phrase with words" and {"key name": 3} then ```x = 1\ny = 2``` done and more words here.')
    for rate in (0.2, 0.4, 0.6, 0.8):
        out = tiny_compressor.compress(text, rate=rate).text
        for span in ("first.last@example.org", "https://example.com/docs?page=2", '"quoted phrase with words"',
                     "```x = 1\ny = 2```"):
            pieces = span.split()
            if any(p in out.split() for p in pieces[1:-1] or pieces):
                assert span in out, (span, out)


def test_force_tokens_and_digits(tiny_xlmr: pathlib.Path) -> None:
    c = TokenClassificationCompressor(str(tiny_xlmr), dtype="float32", force_digits=True, force_tokens=["Nigeria"])
    out = c.compress(PARITY_TEXT, rate=0.3).text
    assert "1901" in out and "Nigeria" in out


def test_answer_type_drives_the_word_priors() -> None:
    from contextzip.lexicon import NUMERIC_TYPES, answer_type

    assert answer_type("when is the next deadpool movie released") in NUMERIC_TYPES
    assert answer_type("How many moons does Mars have?") in NUMERIC_TYPES
    assert answer_type("who got the first nobel prize in physics") == "person"
    assert answer_type("what does hp mean") is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="token_to_word"):
        TokenKeepScorer("x", token_to_word="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="relevance_weight"):
        QueryAwareTokenClassificationCompressor(relevance_weight=-1)
    with pytest.raises(ValueError, match="answer_type_weight"):
        QueryAwareTokenClassificationCompressor(answer_type_weight=-0.5)
    with pytest.raises(ValueError, match="entity_weight"):
        QueryAwareTokenClassificationCompressor(entity_weight=True)
    with pytest.raises(TypeError):
        TokenClassificationCompressor(force_tokens="abc")


# --- the distilled default model --------------------------------------------------------------------------

needs_student = pytest.mark.skipif(not model_available("contextzip-token-clf"), reason="student not built")


@pytest.fixture(scope="module")
def student() -> TokenClassificationCompressor:
    c = TokenClassificationCompressor()
    c.warm_up()
    return c


@pytest.mark.slow
@needs_student
def test_student_keeps_content_words(student: TokenClassificationCompressor) -> None:
    out = student.compress(PARITY_TEXT, rate=0.4).text
    kept = set(re.findall(r"\w+", out.lower()))
    assert len(kept & {"nobel", "physics", "röntgen", "nigeria", "deadpool"}) >= 3
    assert len(kept & {"the", "of", "was", "to", "in"}) <= 2


@pytest.mark.slow
@needs_student
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(TEXTS, min_size=1, max_size=4), target=st.integers(1, 80))
def test_student_budget_and_faithfulness(student: TokenClassificationCompressor, docs: list[str], target: int) -> None:
    result = student.compress(docs, target_tokens=target)
    assert student.token_counter.count(result.text) <= target
    for d, doc in zip(result.documents, docs, strict=True):
        assert _in_order_subsequence(d.text, doc)


@pytest.mark.slow
@needs_student
def test_query_aware_prefers_relevant_sentences(query_guided) -> None:
    c = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, relevance_weight=2.0)
    out = c.compress(PARITY_TEXT, "When does the south west wind blow across Nigeria?", rate=0.25).text
    assert "Nigeria" in out and "Röntgen" not in out


@pytest.mark.slow
@needs_student
def test_entity_weight_keeps_names_and_numbers(query_guided) -> None:
    """With the entity prior, a tight budget spends more of itself on names and numbers than without it."""
    question = "Who received the first Nobel Prize in Physics?"
    plain = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, entity_weight=0.0)
    boosted = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, scorer=plain.scorer,
                                                      entity_weight=2.0)

    def entities(text: str) -> int:
        return sum(w[:1].isupper() or w[:1].isdigit() for w in text.split())

    a = plain.compress(PARITY_TEXT, question, rate=0.3)
    b = boosted.compress(PARITY_TEXT, question, rate=0.3)
    assert b.compressed_tokens <= b.target_tokens
    assert entities(b.text) / len(b.text.split()) > entities(a.text) / len(a.text.split())


@pytest.mark.slow
@needs_student
def test_proximity_and_whole_sentences(query_guided) -> None:
    """proximity_weight favours words next to the question's terms; whole_sentence_share keeps the most relevant
    sentence intact."""
    question = "Which wind blows across Nigeria?"
    base = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, relevance_weight=0.0)
    near = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, scorer=base.scorer,
                                                   relevance_weight=1e-6, proximity_weight=5.0)
    words = PARITY_TEXT.split()
    anchor = next(i for i, w in enumerate(words) if w.startswith("Nigeria"))

    def near_share(text: str) -> float:
        kept = text.split()
        return sum(w in words[anchor - 4:anchor + 5] for w in kept) / len(kept)

    assert near_share(near.compress(PARITY_TEXT, question, rate=0.3).text) > \
        near_share(base.compress(PARITY_TEXT, question, rate=0.3).text)
    whole = QueryAwareTokenClassificationCompressor(sentence_scorer=query_guided.scorer, scorer=base.scorer,
                                                    whole_sentence_share=0.9)
    out = whole.compress(PARITY_TEXT, question, rate=0.45)
    assert "The south west wind blows across Nigeria between July and September, bringing heavy rain." in out.text
    assert out.compressed_tokens <= out.target_tokens
    with pytest.raises(ValueError, match="whole_sentence_share"):
        QueryAwareTokenClassificationCompressor(whole_sentence_share=1.5)


@pytest.mark.slow
@needs_student
def test_compress_batch_matches_compress(student: TokenClassificationCompressor) -> None:
    items = [(None, [PARITY_TEXT, "Another short document about Paris and France."]), (None, PARITY_TEXT[:200])]
    batch = student.compress_batch(items, rate=0.5)
    single = [student.compress(docs, q, rate=0.5) for q, docs in items]
    assert [r.text for r in batch] == [r.text for r in single]
