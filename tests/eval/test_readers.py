"""Readers: prompts, reply cleaning, the OpenAI reader against a local test server (``chat_server`` in
tests/conftest.py), SmolLM2 (slow)."""

from __future__ import annotations

from typing import Any

import pytest

from contextzip.eval.readers import (
    OpenAIReader,
    Reader,
    ReaderPrompt,
    SmolLM2Reader,
    clean_reply,
    get_reader,
)


def test_prompt_messages() -> None:
    closed = ReaderPrompt("Capital of France?").messages()
    assert closed[0]["role"] == "system" and "Context" not in closed[1]["content"]
    with_ctx = ReaderPrompt("Capital of France?", "Paris is the capital.").messages()
    assert with_ctx[1]["content"].startswith("Context:\nParis is the capital.")
    assert with_ctx[1]["content"].endswith("Question: Capital of France?\nAnswer:")
    assert ReaderPrompt("q", "   ").messages()[1]["content"] == "Question: q\nAnswer:"  # blank = closed book
    assert "sentences" in ReaderPrompt("q", "c", long_answer=True).messages()[0]["content"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Paris ", "Paris"), ("Answer: Paris", "Paris"), ("Paris\nIt is the capital.", "Paris"), ("", "")],
)
def test_clean_reply(raw: str, expected: str) -> None:
    assert clean_reply(raw) == expected


def test_get_reader() -> None:
    assert get_reader(None) is None and get_reader("none") is None
    assert isinstance(get_reader("smollm2"), SmolLM2Reader)  # light: nothing loads before the first answer
    with pytest.raises(ValueError, match="reader must be one of"):
        get_reader("gpt-4")
    with pytest.raises(ValueError, match="reader must be one of"):
        get_reader("openai:")


def test_smollm2_reader_validates() -> None:
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int, but got 0"):
        SmolLM2Reader(max_new_tokens=0)


def test_openai_reader_against_local_server(chat_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    chat_server.reply = " Answer: Paris\nbecause it is the capital"
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    reader = get_reader("openai:tiny-model")
    assert isinstance(reader, OpenAIReader) and isinstance(reader, Reader)
    assert reader.name == "openai:tiny-model"
    replies = reader.answer([ReaderPrompt("Capital of France?", "Paris is the capital of France."),
                             ReaderPrompt("Capital of France?"),
                             ReaderPrompt("What was decided?", "A: we decide.", long_answer=True)])
    assert replies[:2] == ["Paris", "Paris"]  # "Answer:" echo and the explanation line dropped
    assert replies[2] == "Answer: Paris\nbecause it is the capital"  # long answers are kept whole
    assert len(chat_server.requests) == 3
    first = chat_server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer test-key"
    body = first["body"]
    assert body["model"] == "tiny-model" and body["temperature"] == 0 and body["max_tokens"] == 24
    assert body["messages"] == ReaderPrompt("Capital of France?", "Paris is the capital of France.").messages()
    assert chat_server.requests[2]["body"]["max_tokens"] == 128


def test_openai_reader_needs_a_key_or_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIReader("m")
    with pytest.raises(ValueError, match="model must be a non-empty str"):
        OpenAIReader(" ")


@pytest.mark.slow
def test_smollm2_reader_batched_equals_single() -> None:
    """Left-padded batches give the same greedy replies as one prompt at a time."""
    reader = SmolLM2Reader(max_new_tokens=4)
    prompts = [ReaderPrompt("What is the capital of France?", "Paris is the capital and largest city of France."),
               ReaderPrompt("What colour is the sky on a clear day?")]
    batched = reader.answer(prompts)
    single = [reader.answer([p])[0] for p in prompts]
    assert len(batched) == 2 and all(isinstance(r, str) for r in batched)
    assert batched == single
    assert "paris" in batched[0].lower()
    assert reader.answer([]) == []


# Gold-answer NLL and gist prompts (issue 12): a made-up fact, so only the passage can teach the answer.
CODE_QUESTION = "What is the secret code?"
CODE_PASSAGE = "The secret code is 7431."


@pytest.fixture(scope="module")
def smollm2() -> SmolLM2Reader:
    """float32 on CPU: bfloat16 rounding moves a padded row's NLL by ~0.05, which would hide the 1e-4 checks."""
    from contextzip.engine import ScoringEngine

    reader = SmolLM2Reader(engine=ScoringEngine(device="cpu", dtype="float32", batch_size=8), max_new_tokens=12)
    reader.warm_up()
    return reader


def own_embeddings(reader: SmolLM2Reader, text: str) -> Any:
    """The decoder's token embeddings of ``text``: a "gist" that is exactly the text."""
    import torch

    ids = reader.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        return reader.model.get_input_embeddings()(torch.tensor(ids)).clone()


def test_gist_prompt_checks_its_placeholders() -> None:
    import torch

    from contextzip.gist.embeds import GIST_PLACEHOLDER

    block = torch.zeros(2, 576)
    prompt = ReaderPrompt("q", f"{GIST_PLACEHOLDER}\n\n{GIST_PLACEHOLDER}", gists=[block, block])
    assert prompt.uses_gists and not ReaderPrompt("q", "text").uses_gists
    assert not ReaderPrompt("q", "text", gists=[]).uses_gists  # no gists: a text prompt
    with pytest.raises(ValueError, match="1 gist placeholders but 2 gists"):
        ReaderPrompt("q", GIST_PLACEHOLDER, gists=[block, block])


def test_openai_reader_refuses_gist_prompts(chat_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from contextzip.gist.embeds import GIST_PLACEHOLDER

    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.base_url)
    reader = get_reader("openai:tiny-model")
    assert reader is not None and not hasattr(reader, "answer_nll")
    with pytest.raises(ValueError, match="reads text only: gist prompts .* need a self-hosted reader"):
        reader.answer([ReaderPrompt("q"), ReaderPrompt("q", GIST_PLACEHOLDER, gists=[torch.zeros(1, 576)])])
    assert chat_server.requests == []  # refused before any request


@pytest.mark.slow
def test_keep_last_positions_cuts_text_and_gists(smollm2: SmolLM2Reader) -> None:
    import torch

    from contextzip.eval.readers import keep_last_positions
    from contextzip.gist.embeds import GIST_PLACEHOLDER as G

    tok = smollm2.tokenizer
    text = "<|im_start|>user\nAlpha beta gamma.<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert keep_last_positions(tok, text, [], 100) == (text, [], len(ids))
    kept, gists, n = keep_last_positions(tok, text, [], 6)
    assert n == 6 and gists == [] and tok(kept, add_special_tokens=False)["input_ids"] == ids[-6:]
    block = torch.arange(5 * 576, dtype=torch.float32).reshape(5, 576)
    tail = "\nQuestion: q<|im_end|>"
    n_tail = len(tok(tail, add_special_tokens=False)["input_ids"])
    kept, gists, n = keep_last_positions(tok, f"Context: {G}{tail}", [block], n_tail + 3)
    assert kept == f"{G}{tail}" and n == n_tail + 3
    assert len(gists) == 1 and torch.equal(gists[0], block[2:])  # the block's last 3 rows
    kept, gists, n = keep_last_positions(tok, f"{G}{G}{tail}", [block, block[:1]], n_tail + 1)
    assert kept == f"{G}{tail}" and torch.equal(gists[0], block[:1])  # the first block dropped whole


@pytest.mark.slow
def test_answer_nll_is_lower_with_the_gold_passage(smollm2: SmolLM2Reader) -> None:
    with_passage, closed = smollm2.answer_nll([ReaderPrompt(CODE_QUESTION, CODE_PASSAGE), ReaderPrompt(CODE_QUESTION)],
                                              ["7431", " 7431 "])  # the answer is stripped: no leading space
    assert with_passage < closed - 1.0  # measured 0.79 against 4.69 nats per token
    assert smollm2.answer_nll([], []) == []
    with pytest.raises(ValueError, match="got 1 prompts but 2 answers"):
        smollm2.answer_nll([ReaderPrompt("q")], ["a", "b"])
    with pytest.raises(ValueError, match=r"answers\[0\] is empty"):
        smollm2.answer_nll([ReaderPrompt("q")], ["  "])


@pytest.mark.slow
def test_answer_nll_batched_equals_single(smollm2: SmolLM2Reader) -> None:
    """Left padding (rows of different lengths in one batch) does not change a row's NLL."""
    prompts = [ReaderPrompt(CODE_QUESTION, CODE_PASSAGE), ReaderPrompt(CODE_QUESTION),
               ReaderPrompt("What colour is the sky on a clear day?",
                            "On a clear day the sky is blue: air scatters short wavelengths of sunlight the most.")]
    answers = ["7431", "7431", "blue"]
    batched = smollm2.answer_nll(prompts, answers)
    single = [smollm2.answer_nll([p], [a])[0] for p, a in zip(prompts, answers, strict=True)]
    assert batched == pytest.approx(single, abs=1e-4)


@pytest.mark.slow
def test_gists_that_are_the_passage_equal_the_text_prompt(smollm2: SmolLM2Reader) -> None:
    """A gist prompt whose one block is the passage's own token embeddings feeds the decoder exactly what the
    text prompt does: same NLL, same reply, alone or in a batch mixed with text prompts."""
    from contextzip.gist.embeds import GIST_PLACEHOLDER

    text = ReaderPrompt(CODE_QUESTION, CODE_PASSAGE)
    gist = ReaderPrompt(CODE_QUESTION, GIST_PLACEHOLDER, gists=[own_embeddings(smollm2, CODE_PASSAGE)])
    closed = ReaderPrompt(CODE_QUESTION)
    assert smollm2.embeds_prompt(gist)[2] == smollm2.embeds_prompt(text)[2] == len(smollm2.encode(text))
    nll = smollm2.answer_nll([gist, text, closed], ["7431"] * 3)
    assert nll[0] == pytest.approx(nll[1], abs=1e-4) and nll[0] < nll[2]
    replies = smollm2.answer([gist, closed, text])
    assert replies[0] == replies[2] == smollm2.answer([text])[0] and "7431" in replies[0]
    assert replies[1] == smollm2.answer([closed])[0]
