"""contextzip.causal_lm: loading (causal and seq2seq), batched per-token NLL with KV-cache segments, generation."""

from __future__ import annotations

import time

import numpy as np
import pytest

from contextzip.causal_lm import CausalLMScorer, TextGenerator, converted_path, is_seq2seq
from contextzip.engine import ScoringEngine

CORPUS = [
    "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen of Germany.",
    "Paris is the capital and most populous city of France, with an area of 105 square kilometres.",
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris.",
    "Who got the first Nobel prize in physics? Summarize the documents. Question: answer.",
]


def build_tiny_models(root) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A tiny random Llama and T5 with a byte-level BPE tokenizer trained here (no downloads)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
        T5Config,
        T5ForConditionalGeneration,
    )

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<pad>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(CORPUS * 5, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="</s>", pad_token="<pad>",
                                        unk_token="<|endoftext|>")
    vocab = len(tokenizer)
    causal_dir, t5_dir = str(root / "tiny-llama"), str(root / "tiny-t5")
    import torch

    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=48,
                                         pad_token_id=1, eos_token_id=2, bos_token_id=0))
    llama.save_pretrained(causal_dir)
    tokenizer.save_pretrained(causal_dir)
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=vocab, d_model=32, d_ff=64, d_kv=8, num_layers=2,
                                             num_heads=4, pad_token_id=1, eos_token_id=2, decoder_start_token_id=1))
    t5.save_pretrained(t5_dir)
    tokenizer.save_pretrained(t5_dir)
    return causal_dir, t5_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return build_tiny_models(tmp_path_factory.mktemp("tiny-lm"))


def test_token_nll_segments_match_single_pass(tiny) -> None:
    engine = ScoringEngine(device="cpu", dtype="float32", batch_size=2)
    one = CausalLMScorer(tiny[0], engine, segment_tokens=512)
    seg = CausalLMScorer(tiny[0], engine, segment_tokens=3)
    seqs = [[one.separator_id, *ids] for ids, _ in one.encode(CORPUS[:3])]
    a, b = one.token_nll(seqs), seg.token_nll(seqs)
    for x, y, s in zip(a, b, seqs, strict=True):
        assert len(x) == len(s) and np.isnan(x[0]) and np.isfinite(x[1:]).all()
        np.testing.assert_allclose(x[1:], y[1:], atol=1e-4)
    assert one.separator_id == 0  # "<|endoftext|>"


def test_token_nll_windows_longer_than_the_context(tiny) -> None:
    scorer = CausalLMScorer(tiny[0], ScoringEngine(device="cpu", dtype="float32"))
    long = [scorer.separator_id] + [5, 6, 7, 8] * 30  # 121 tokens, model context 48
    out = scorer.token_nll([long, long[:10]])
    assert len(out[0]) == 121 and len(out[1]) == 10
    assert np.isfinite(out[0]).sum() == 121 - 3  # one unscored token per window


def test_encode_offsets_point_into_text(tiny) -> None:
    scorer = CausalLMScorer(tiny[0], ScoringEngine(device="cpu", dtype="float32"))
    (ids, offsets), = scorer.encode([CORPUS[1]])
    assert len(ids) == len(offsets) and offsets[0][0] == 0 and offsets[-1][1] == len(CORPUS[1])


def test_generator_causal_and_seq2seq(tiny) -> None:
    assert not is_seq2seq(tiny[0]) and is_seq2seq(tiny[1])
    for path in tiny:
        gen = TextGenerator(path, ScoringEngine(device="cpu", dtype="float32", batch_size=2))
        out = gen.generate([gen.prompt("Summarize: Paris is the capital."), gen.prompt("Hi"), "x"], max_new_tokens=4)
        assert len(out) == 3 and all(isinstance(t, str) for t in out)
        assert len(gen.tokenizer(out[0], add_special_tokens=False)["input_ids"]) <= 8
    assert TextGenerator(tiny[1]).is_seq2seq is False  # decided lazily, on warm_up


def test_invalid_arguments(tiny) -> None:
    with pytest.raises(ValueError, match="segment_tokens"):
        CausalLMScorer(tiny[0], segment_tokens=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        TextGenerator(tiny[0]).generate(["x"], max_new_tokens=0)
    with pytest.raises(ValueError, match="max_input_tokens"):
        TextGenerator(tiny[0], max_input_tokens=-1)


@pytest.mark.slow
def test_smollm2_loads_fast_and_prefers_real_text() -> None:
    converted_path("smollm2-135m")  # converts once if needed
    start = time.perf_counter()
    scorer = CausalLMScorer("smollm2-135m", ScoringEngine(device="cpu", dtype="float32"))
    scorer.warm_up()
    assert time.perf_counter() - start < 30  # well under a second on a quiet machine
    natural = "Paris is the capital and most populous city of France."
    shuffled = "capital city France most the Paris and populous is of."
    enc = scorer.encode([natural, shuffled])
    nll = scorer.token_nll([[scorer.separator_id, *ids] for ids, _ in enc])
    assert np.nanmean(nll[0]) < np.nanmean(nll[1])
