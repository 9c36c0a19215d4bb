from __future__ import annotations

import os

import pytest

from contextzip.tokens import TiktokenCounter, get_token_counter, prefix_within, seed_tiktoken_cache


def test_default_counter_is_o200k(counter):
    assert get_token_counter().name == "o200k_base"
    assert counter.count("hello world") == 2
    assert counter.count("") == 0


def test_cl100k_on_request():
    c = get_token_counter("cl100k_base")
    assert c.name == "cl100k_base"
    assert c.count("hello world") == 2


def test_special_token_text_counts_as_plain_text(counter):
    assert counter.count("<|endoftext|>") > 1


def test_seeding_works_in_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    path = seed_tiktoken_cache("cl100k_base")
    assert path is not None and os.path.getsize(path) > 1_000_000
    import hashlib

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    assert os.path.basename(path) == hashlib.sha1(url.encode()).hexdigest()


def test_hf_tokenizer_counter():
    c = get_token_counter("hf:minilm")
    assert c.name == "hf:minilm"
    assert c.count("hello world") == 2
    assert c.count_many(["hello", "hello world"]) == [1, 2]


def test_bad_counter_spec():
    with pytest.raises(ValueError, match="p50k"):
        get_token_counter("p50k")
    with pytest.raises(TypeError):
        get_token_counter(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TiktokenCounter("gpt2")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_prefix_within_fits_and_is_a_prefix(counter, n):
    text = "Paris is the capital of France and its largest city by population."
    head = prefix_within(text, n, counter)
    assert text.startswith(head)
    assert counter.count(head) <= n
    assert head == "" or len(head) == len(text) or text[len(head)].isspace()


def test_prefix_within_multibyte(counter):
    text = "今天天气很好我们去公园吧"
    for n in range(1, 8):
        head = prefix_within(text, n, counter, word_boundary=False)
        assert text.startswith(head) and counter.count(head) <= n
