"""Controls on the default compressors: force_keep, keep_ids, protect, reorder="relevance", sections with their
own rates, compress_prompt (only the context is compressed) and the estimated saving for a named model's price."""

from __future__ import annotations

import re

import pytest

from contextzip import compress_prompt
from contextzip.compressors.baselines import BM25SentenceCompressor
from contextzip.controls import Controls, compress_sections
from contextzip.pricing import PRICES_USD_PER_MILLION, estimate_saving, price_of, set_price
from contextzip.types import DocumentStatus

CONTEXT = ["The Harwick Point lighthouse was first lit in 1872. Its lamp burned whale oil.",
           "Marta Lindqvist kept the light for 31 years, from 1924 to 1955.",
           "Bananas grow in hanging clusters called hands. A banana plant is a giant herb."]
QUESTION = "Who kept the light for 31 years?"
INSTRUCTION = "Answer from the context only."


def test_compress_prompt_compresses_only_the_context(counter):
    out = compress_prompt(instruction=INSTRUCTION, context=CONTEXT, question=QUESTION, target_tokens=20,
                          compressor="bm25-sentences")
    assert out.prompt.startswith(INSTRUCTION + "\n\n<context>\n")
    assert out.prompt.endswith(f"\n</context>\n\nQuestion: {QUESTION}")
    assert out.result.compressed_tokens <= 20 and "Lindqvist" in out.result.text
    assert out.result.text in out.prompt
    assert out.prompt_tokens_after == counter.count(out.prompt) < out.prompt_tokens_before
    assert out.tokens_saved == out.prompt_tokens_before - out.prompt_tokens_after > 0


def test_compress_prompt_template_and_missing_parts():
    out = compress_prompt(context=CONTEXT, rate=1.0, compressor="truncate")
    assert out.prompt == "<context>\n" + "\n\n".join(CONTEXT) + "\n</context>" and out.tokens_saved == 0
    out = compress_prompt(context=CONTEXT, question=QUESTION, target_tokens=15, compressor="truncate",
                          template="Q: {question}\nC: {context}")
    assert out.prompt.startswith(f"Q: {QUESTION}\nC: ")
    with pytest.raises(ValueError, match="template"):
        compress_prompt(context=CONTEXT, rate=0.5, template="no slot")
    with pytest.raises(ValueError, match="exactly one"):
        compress_prompt(context=CONTEXT, compressor="truncate")
    with pytest.raises(TypeError, match="instruction"):
        compress_prompt(context=CONTEXT, rate=0.5, instruction=3)


def test_estimated_saving_for_a_named_model():
    out = compress_prompt(instruction=INSTRUCTION, context=CONTEXT, question=QUESTION, target_tokens=20,
                          compressor="bm25-sentences")
    saving = out.estimated_saving("gpt-4o-mini", requests=1_000_000)
    assert saving.usd == pytest.approx(out.tokens_saved * PRICES_USD_PER_MILLION["gpt-4o-mini"])
    assert saving.prices_as_of[:4].isdigit()
    assert price_of("gpt-4o-mini-2024-07-18") == PRICES_USD_PER_MILLION["gpt-4o-mini"]  # dated snapshot
    assert estimate_saving(1_000_000, "mine", prices={"mine": 2.0}).usd == 2.0
    assert estimate_saving(1_000_000, "mine", prices={"mine": 2.0}).prices_as_of == "caller's price"
    with pytest.raises(ValueError, match="no price for model 'unknown-model'"):
        estimate_saving(10, "unknown-model")
    with pytest.raises(ValueError, match="tokens_saved"):
        estimate_saving(-1, "gpt-4o")


def test_set_price_overrides_the_table(monkeypatch):
    monkeypatch.setattr("contextzip.pricing.PRICES_USD_PER_MILLION", dict(PRICES_USD_PER_MILLION))
    set_price("gpt-4o", 1.0)
    assert price_of("gpt-4o") == 1.0
    with pytest.raises(ValueError, match="price must be"):
        set_price("gpt-4o", -1)


# -- force_keep, keep_ids, protect, reorder on the default compressors -----------------------------------------

DOCS = [{"id": "history", "text": "The Harwick Point lighthouse was first lit in 1872. Its lamp burned whale oil. "
                                  "The tower was rebuilt in stone in 1901."},
        {"id": "keepers", "text": "Seven keepers served at Harwick Point. Marta Lindqvist kept the light for 31 "
                                  "years. She kept a daily log of ships."},
        {"id": "fruit", "text": "Bananas grow in hanging clusters called hands. A banana plant is a giant herb."}]
ASK = "Who kept the light for 31 years?"


def status(result, doc_id):
    return next(d for d in result.documents if d.id == doc_id).status


def test_force_keep_terms_and_regexes_are_kept():
    plain = BM25SentenceCompressor().compress(DOCS, ASK, target_tokens=30)
    assert "Bananas" not in plain.text and "1901" not in plain.text
    forced = BM25SentenceCompressor(force_keep=["Bananas", re.compile(r"\b19\d\d\b")]).compress(
        DOCS, ASK, target_tokens=30)
    assert "Bananas grow" in forced.text and "1901" in forced.text and forced.compressed_tokens <= 30


def test_keep_ids_and_protect():
    kept = BM25SentenceCompressor(keep_ids=["fruit"]).compress(DOCS, ASK, target_tokens=25)
    assert status(kept, "fruit") != DocumentStatus.DROPPED and kept.compressed_tokens <= 25
    protected = BM25SentenceCompressor(protect=["history"]).compress(DOCS, ASK, target_tokens=45)
    history = next(d for d in protected.documents if d.id == "history")
    assert history.status == DocumentStatus.KEPT and history.text == DOCS[0]["text"]
    assert protected.compressed_tokens <= 45


def test_reorder_by_relevance_puts_the_best_document_first():
    ordered = BM25SentenceCompressor(reorder="relevance").compress(DOCS, ASK, target_tokens=40)
    assert ordered.text.startswith("Seven keepers") or ordered.text.startswith("Marta")
    assert ordered.compressed_tokens <= 40
    within = BM25SentenceCompressor(reorder="relevance").compress(DOCS, ASK, rate=1.0)
    assert within.text.startswith("Seven keepers")  # input within its budget is reordered too
    assert {d.status for d in within.documents} == {DocumentStatus.KEPT}


@pytest.mark.slow
def test_controls_on_query_guided_and_token_classification():
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.compressors.token_classification import TokenClassificationCompressor

    qg = QueryGuidedCompressor(force_keep=["Bananas"], reorder="relevance").compress(DOCS, ASK, target_tokens=35)
    assert "Bananas" in qg.text and qg.compressed_tokens <= 35
    assert qg.text.index("Lindqvist") < qg.text.index("Bananas")  # most relevant document first
    tc = TokenClassificationCompressor(force_keep=["Lindqvist", "whale"]).compress(DOCS, ASK, target_tokens=12)
    assert "Lindqvist" in tc.text and "whale" in tc.text and tc.compressed_tokens <= 12


def test_controls_validation():
    with pytest.raises(ValueError, match="reorder must be one of"):
        BM25SentenceCompressor(reorder="random")
    with pytest.raises(TypeError, match="force_keep"):
        BM25SentenceCompressor(force_keep=[3])
    assert not Controls.build().active and Controls.build(force_keep="x").force_keep[0].pattern == "x"


def test_compress_sections_protects_and_rates_each_document(counter):
    compressor = BM25SentenceCompressor()
    out = compress_sections(compressor, DOCS, ASK, target_tokens=50, protect=["keepers"], rates={"history": 0.5})
    docs = {d.id: d for d in out.documents}
    assert docs["keepers"].text == DOCS[1]["text"] and docs["keepers"].status == DocumentStatus.KEPT
    assert docs["history"].compressed_tokens <= 0.5 * counter.count(DOCS[0]["text"])
    assert out.compressed_tokens == counter.count(out.text) <= 50
    assert [d.id for d in out.documents] == ["history", "keepers", "fruit"]
    with pytest.raises(ValueError, match="both protected and given a rate"):
        compress_sections(compressor, DOCS, ASK, target_tokens=50, protect=["history"], rates={"history": 0.5})
    with pytest.raises(Exception, match="more than the budget"):
        compress_sections(compressor, DOCS, ASK, target_tokens=10, protect=["history"])
