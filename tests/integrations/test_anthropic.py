"""The anthropic wrapper, with the real anthropic SDK against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import copy

import pytest
from anthropic import Anthropic, AsyncAnthropic
from integration_samples import PARAGRAPHS, QUESTION

from contextzip.integrations.anthropic import CompressingAnthropic, wrap_anthropic
from contextzip.integrations.messages import CONTEXT_BLOCK

SYSTEM = "Answer from the documents only."


def messages():
    docs = [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": p},
             "title": f"Part {i}"} for i, p in enumerate(PARAGRAPHS)]
    return [{"role": "user", "content": [*docs, {"type": "text", "text": QUESTION}]}]


def test_wrapped_client_compresses_documents(fake_openai, counter):
    server = fake_openai
    client = wrap_anthropic(Anthropic(base_url=server.url, api_key="k", max_retries=0), target_tokens=60,
                            compressor="truncate")
    msgs = messages()
    before = copy.deepcopy(msgs)
    reply = client.messages.create(model="echo-1", max_tokens=16, system=SYSTEM, messages=msgs)
    assert reply.content[0].text.startswith("echo:")
    assert msgs == before
    body = server.last_body
    assert body["system"] == SYSTEM
    blocks = body["messages"][0]["content"]
    assert blocks[-1] == {"type": "text", "text": QUESTION}
    assert 0 < sum(counter.count(b["source"]["data"]) for b in blocks[:-1]) <= 60


async def test_async_client_and_system_context(fake_openai, counter):
    server = fake_openai
    client = wrap_anthropic(AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0), target_tokens=25,
                            compressor="truncate")
    system = f"{SYSTEM}\n<context>\n" + "\n\n".join(PARAGRAPHS) + "\n</context>"
    await client.messages.create(model="echo-1", max_tokens=16, system=system,
                                 messages=[{"role": "user", "content": QUESTION}])
    body = server.last_body
    assert body["system"].startswith(SYSTEM + "\n<context>")
    assert counter.count(CONTEXT_BLOCK.search(body["system"]).group(2).strip()) <= 25
    assert body["messages"] == [{"role": "user", "content": QUESTION}]


def test_wrapper_validation():
    with pytest.raises(TypeError, match="anthropic.Anthropic"):
        CompressingAnthropic(object(), target_tokens=5)
    with pytest.raises(ValueError, match="exactly one"):
        wrap_anthropic(Anthropic(base_url="http://127.0.0.1:9", api_key="k"))
