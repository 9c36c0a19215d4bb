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
