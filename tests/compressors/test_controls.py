"""Controls on the default compressors: compress_prompt (only the context is compressed) and the estimated
saving for a named model's price."""

from __future__ import annotations

import pytest

from contextzip import compress_prompt
from contextzip.pricing import PRICES_USD_PER_MILLION, estimate_saving, price_of, set_price

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
