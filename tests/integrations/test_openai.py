"""The openai wrapper, with the real openai SDK against a local echo upstream on 127.0.0.1."""

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


def upstream_context(app) -> str:
    body = app.state.received[-1]["body"]
    return CONTEXT_BLOCK.search(body["messages"][1]["content"]).group(2).strip()


def test_wrapped_client_compresses_before_create(echo_upstream, counter):
    app, url = echo_upstream
    seen = []
    client = wrap_openai(OpenAI(base_url=f"{url}/v1", api_key="test-key", max_retries=0), target_tokens=50,
                         compressor="truncate", on_compression=seen.append)
    msgs = messages()
    before = copy.deepcopy(msgs)
    reply = client.chat.completions.create(model="echo-1", messages=msgs)
    assert reply.choices[0].message.content.startswith("echo:")
    assert msgs == before
    received = app.state.received[-1]["body"]["messages"]
    assert received[0] == msgs[0] and received[1]["content"].endswith(QUESTION)
    assert 0 < counter.count(upstream_context(app)) <= 50
    assert seen and seen[0].result.compressed_tokens <= 50
    assert [m.id for m in client.models.list().data] == ["echo-1"]  # everything else is the client's own


def test_per_call_options_override_defaults(echo_upstream, counter):
    app, url = echo_upstream
    client = wrap_openai(OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0), target_tokens=50,
                         compressor="truncate")
    client.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": QUESTION}],
                                   contextzip={"documents": PARAGRAPHS, "rate": 0.25})
    assert counter.count(upstream_context_last_user(app)) <= int(0.25 * counter.count("\n\n".join(PARAGRAPHS)))
    with pytest.raises(ValueError, match="contextzip options"):
        client.chat.completions.create(model="echo-1", messages=messages(), contextzip={"budget": 5})


def upstream_context_last_user(app) -> str:
    body = app.state.received[-1]["body"]
    return CONTEXT_BLOCK.search(body["messages"][-1]["content"]).group(2).strip()


def test_streaming_through_wrapper(echo_upstream):
    _, url = echo_upstream
    client = wrap_openai(OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    chunks = client.chat.completions.create(model="echo-1", messages=messages(), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("echo:")


async def test_async_client(echo_upstream, counter):
    app, url = echo_upstream
    client = wrap_openai(AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0), target_tokens=45,
                         compressor="truncate")
    reply = await client.chat.completions.create(model="echo-1", messages=messages())
    assert reply.choices[0].message.content.startswith("echo:")
    assert counter.count(upstream_context(app)) <= 45


def test_wrapper_validation():
    with pytest.raises(TypeError, match="openai.OpenAI"):
        CompressingOpenAI(object(), target_tokens=5)
    with pytest.raises(ValueError, match="exactly one"):
        wrap_openai(OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k"))
