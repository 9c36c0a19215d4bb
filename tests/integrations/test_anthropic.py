"""The anthropic wrapper, with the real anthropic SDK against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import copy

import pytest
from anthropic import Anthropic, AsyncAnthropic
from integration_samples import PARAGRAPHS, QUESTION, own_fake_server

from contextzip.integrations.anthropic import CompressingAnthropic, wrap_anthropic
from contextzip.integrations.endpoint import UncoveredCallError
from contextzip.integrations.messages import CONTEXT_BLOCK

SYSTEM = "Answer from the documents only."



# this module's own fake server: its many call paths stay out of the session server's records
fake_openai = pytest.fixture(own_fake_server, scope="module", name="fake_openai")


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


# -- every call path: compressed, or a clear error -------------------------------------------------------------

def document_tokens(server, counter) -> int:
    blocks = server.last_body["messages"][0]["content"]
    return sum(counter.count(b["source"]["data"]) for b in blocks if b["type"] == "document")


def _stream(endpoint, **kwargs):
    with endpoint.stream(**kwargs) as stream:
        return "".join(stream.text_stream)


async def _astream(endpoint, **kwargs):
    async with endpoint.stream(**kwargs) as stream:
        return "".join([t async for t in stream.text_stream])


def _read(method, **kwargs):
    with method(**kwargs) as response:
        return response.read()


SYNC_PATHS = {
    "messages.create": lambda c, **kw: c.messages.create(**kw),
    "messages.with_raw_response.create": lambda c, **kw: c.messages.with_raw_response.create(**kw).parse(),
    "messages.with_streaming_response.create": lambda c, **kw: _read(c.messages.with_streaming_response.create,
                                                                     **kw),
    "messages.count_tokens": lambda c, **kw: c.messages.count_tokens(
        **{k: v for k, v in kw.items() if k != "max_tokens"}),
    "messages.create stream=True": lambda c, **kw: list(c.messages.create(stream=True, **kw)),
    "messages.stream": lambda c, **kw: _stream(c.messages, **kw),
    "messages.parse": lambda c, **kw: c.messages.parse(**kw),
    "beta.messages.create": lambda c, **kw: c.beta.messages.create(**kw),
    "beta.messages.stream": lambda c, **kw: _stream(c.beta.messages, **kw),
}


@pytest.mark.parametrize("path", list(SYNC_PATHS))
def test_every_sync_call_path_compresses(fake_openai, counter, path):
    client = wrap_anthropic(Anthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=60,
                            compressor="truncate")
    SYNC_PATHS[path](client, model="echo-1", max_tokens=16, messages=messages())
    assert 0 < document_tokens(fake_openai, counter) <= 60


async def _aread(method, **kwargs):
    async with method(**kwargs) as response:
        return await response.read()


ASYNC_PATHS = {
    "messages.create": lambda c, **kw: c.messages.create(**kw),
    "messages.with_raw_response.create": lambda c, **kw: c.messages.with_raw_response.create(**kw),
    "messages.with_streaming_response.create": lambda c, **kw: _aread(c.messages.with_streaming_response.create,
                                                                      **kw),
    "messages.count_tokens": lambda c, **kw: c.messages.count_tokens(
        **{k: v for k, v in kw.items() if k != "max_tokens"}),
    "messages.stream": lambda c, **kw: _astream(c.messages, **kw),
    "messages.parse": lambda c, **kw: c.messages.parse(**kw),
}


@pytest.mark.parametrize("path", list(ASYNC_PATHS))
async def test_every_async_call_path_compresses(fake_openai, counter, path):
    client = wrap_anthropic(AsyncAnthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=60,
                            compressor="truncate")
    await ASYNC_PATHS[path](client, model="echo-1", max_tokens=16, messages=messages())
    assert 0 < document_tokens(fake_openai, counter) <= 60


def test_uncovered_call_paths_raise_a_clear_error():
    client = wrap_anthropic(Anthropic(base_url="http://127.0.0.1:9", api_key="k", max_retries=0), target_tokens=5)
    with pytest.raises(UncoveredCallError, match="batches.create"):
        client.messages.batches.create(requests=[])
    with pytest.raises(UncoveredCallError, match="tool_runner"):
        client.messages.tool_runner(model="echo-1", max_tokens=5, messages=[], tools=[])
    assert callable(client.messages.batches.list)  # the rest of a guarded resource is the SDK's own


def tool_turn(content):
    return [{"role": "user", "content": QUESTION},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "search", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": content},
                                         {"type": "text", "text": "Answer now."}]}]


def test_tool_results_are_compressed_in_place(fake_openai, counter):
    client = wrap_anthropic(Anthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=40,
                            compressor="truncate")
    marked = "<context>\n" + "\n\n".join(PARAGRAPHS) + "\n</context>"
    msgs = tool_turn(marked)
    before = copy.deepcopy(msgs)
    client.messages.create(model="echo-1", max_tokens=16, messages=msgs)
    assert msgs == before
    sent = fake_openai.last_body["messages"]
    assert sent[:2] == msgs[:2] and sent[2]["content"][1] == {"type": "text", "text": "Answer now."}
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "t1" and isinstance(result["content"], str)
    assert 0 < counter.count(CONTEXT_BLOCK.search(result["content"]).group(2).strip()) <= 40
    blocks = tool_turn([{"type": "text", "text": p, "context": True} for p in PARAGRAPHS])
    client.messages.create(model="echo-1", max_tokens=16, messages=blocks)
    result = fake_openai.last_body["messages"][2]["content"][0]
    assert all(set(b) == {"type", "text"} for b in result["content"])
    assert 0 < sum(counter.count(b["text"]) for b in result["content"]) <= 40


def test_unmarked_policies(fake_openai, counter, caplog):
    msgs = tool_turn("\n\n".join(PARAGRAPHS))
    warn = wrap_anthropic(Anthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=40,
                          compressor="truncate")
    with caplog.at_level("WARNING", logger="contextzip"):
        warn.messages.create(model="echo-1", max_tokens=16, messages=msgs)
        warn.messages.create(model="echo-1", max_tokens=16, messages=msgs)
    assert fake_openai.last_body["messages"] == msgs
    assert [r.levelname for r in caplog.records if "no marked context" in r.getMessage()] == ["WARNING"]
    whole = wrap_anthropic(Anthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=40,
                           compressor="truncate", unmarked="compress")
    whole.messages.create(model="echo-1", max_tokens=16, messages=msgs)
    result = fake_openai.last_body["messages"][2]["content"][0]
    assert result["tool_use_id"] == "t1" and 0 < counter.count(result["content"]) <= 40


def test_client_level_views_and_copies_compress_too(fake_openai, counter):
    client = wrap_anthropic(Anthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=60,
                            compressor="truncate")
    client.with_raw_response.messages.create(model="echo-1", max_tokens=16, messages=messages()).parse()
    assert 0 < document_tokens(fake_openai, counter) <= 60
    client.with_options(timeout=10).messages.create(model="echo-1", max_tokens=16, messages=messages())
    assert 0 < document_tokens(fake_openai, counter) <= 60
    assert isinstance(client.copy(), CompressingAnthropic)


async def test_async_messages_create_compresses_off_the_event_loop(fake_openai):
    from test_openai import _Slow, _ticks_during

    client = wrap_anthropic(AsyncAnthropic(base_url=fake_openai.url, api_key="k", max_retries=0), target_tokens=40,
                            compressor=_Slow.make())
    context = "\n\n".join(PARAGRAPHS)
    ticks = await _ticks_during(lambda: client.messages.create(
        model="echo-1", max_tokens=16,
        messages=[{"role": "user", "content": f"<context>\n{context}\n</context>\n\n{QUESTION}"}]))
    assert ticks >= 10, f"the event loop ran only {ticks} ticks in a 0.4 s compression"
