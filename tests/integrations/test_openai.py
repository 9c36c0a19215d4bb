"""The openai wrapper, with the real openai SDK against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import copy

import pytest
from integration_samples import PARAGRAPHS, QUESTION
from openai import AsyncOpenAI, OpenAI

from contextzip.integrations.messages import CONTEXT_BLOCK
from contextzip.integrations.openai import CompressingOpenAI, wrap_openai


def messages():
    context = "\n\n".join(PARAGRAPHS)
    return [{"role": "system", "content": "Answer from the context."},
            {"role": "user", "content": f"<context>\n{context}\n</context>\n\n{QUESTION}"}]


def upstream_context(server) -> str:
    body = server.last_body
    return CONTEXT_BLOCK.search(body["messages"][1]["content"]).group(2).strip()


def test_wrapped_client_compresses_before_create(fake_openai, counter):
    server = fake_openai
    seen = []
    client = wrap_openai(OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0), target_tokens=50,
                         compressor="truncate", on_compression=seen.append)
    msgs = messages()
    before = copy.deepcopy(msgs)
    reply = client.chat.completions.create(model="echo-1", messages=msgs)
    assert reply.choices[0].message.content.startswith("echo:")
    assert msgs == before
    received = server.last_body["messages"]
    assert received[0] == msgs[0] and received[1]["content"].endswith(QUESTION)
    assert 0 < counter.count(upstream_context(server)) <= 50
    assert seen and seen[0].result.compressed_tokens <= 50
    assert [m.id for m in client.models.list().data] == ["echo-1"]  # everything else is the client's own


def test_per_call_options_override_defaults(fake_openai, counter):
    server = fake_openai
    client = wrap_openai(OpenAI(base_url=server.base_url, api_key="k", max_retries=0), target_tokens=50,
                         compressor="truncate")
    client.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": QUESTION}],
                                   contextzip={"documents": PARAGRAPHS, "rate": 0.25})
    assert counter.count(upstream_context_last_user(server)) <= int(0.25 * counter.count("\n\n".join(PARAGRAPHS)))
    with pytest.raises(ValueError, match="contextzip options"):
        client.chat.completions.create(model="echo-1", messages=messages(), contextzip={"budget": 5})


def upstream_context_last_user(server) -> str:
    body = server.last_body
    return CONTEXT_BLOCK.search(body["messages"][-1]["content"]).group(2).strip()


def test_streaming_through_wrapper(fake_openai):
    server = fake_openai
    client = wrap_openai(OpenAI(base_url=server.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    chunks = client.chat.completions.create(model="echo-1", messages=messages(), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("echo:")


async def test_async_client(fake_openai, counter):
    server = fake_openai
    client = wrap_openai(AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0), target_tokens=45,
                         compressor="truncate")
    reply = await client.chat.completions.create(model="echo-1", messages=messages())
    assert reply.choices[0].message.content.startswith("echo:")
    assert counter.count(upstream_context(server)) <= 45


def test_wrapper_validation():
    with pytest.raises(TypeError, match="openai.OpenAI"):
        CompressingOpenAI(object(), target_tokens=5)
    with pytest.raises(ValueError, match="exactly one"):
        wrap_openai(OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k"))
