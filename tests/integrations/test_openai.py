"""The openai wrapper, with the real openai SDK against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import copy

import pytest
from integration_samples import PARAGRAPHS, QUESTION, own_fake_server
from openai import AsyncOpenAI, OpenAI

from contextzip.integrations.endpoint import UncoveredCallError
from contextzip.integrations.messages import CONTEXT_BLOCK
from contextzip.integrations.openai import CompressingOpenAI, wrap_openai

# this module's own fake server: its many call paths stay out of the session server's records
fake_openai = pytest.fixture(own_fake_server, scope="module", name="fake_openai")


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


# -- every call path: compressed, or a clear error -------------------------------------------------------------

def sent_context(server) -> str:
    """The context block the server received, from chat messages, Responses input or a legacy prompt."""
    body = server.last_body
    if "messages" in body:
        text = body["messages"][-1]["content"]
    elif "prompt" in body:
        text = body["prompt"]
    else:
        items = body["input"]
        text = items if isinstance(items, str) else items[-1]["content"]
        text = text if isinstance(text, str) else text[0]["text"]
    return CONTEXT_BLOCK.search(text).group(2).strip()


def chat_stream(endpoint, **kwargs):
    with endpoint.stream(**kwargs) as stream:
        return "".join(e.delta for e in stream if e.type == "content.delta")


def responses_stream(endpoint, **kwargs):
    with endpoint.stream(**kwargs) as stream:
        for _ in stream:
            pass
        return stream.get_final_response().output_text


def streaming_response(method, **kwargs):
    with method(**kwargs) as response:
        return response.read()


SYNC_PATHS = {
    "chat.create": lambda c, m: c.chat.completions.create(model="echo-1", messages=m),
    "chat.parse": lambda c, m: c.chat.completions.parse(model="echo-1", messages=m),
    "chat.stream": lambda c, m: chat_stream(c.chat.completions, model="echo-1", messages=m),
    "chat.create stream=True": lambda c, m: list(c.chat.completions.create(model="echo-1", messages=m, stream=True)),
    "chat.with_raw_response.create": lambda c, m: c.chat.completions.with_raw_response.create(
        model="echo-1", messages=m).parse(),
    "chat.with_raw_response.parse": lambda c, m: c.chat.completions.with_raw_response.parse(
        model="echo-1", messages=m).parse(),
    "chat.with_streaming_response.create": lambda c, m: streaming_response(
        c.chat.completions.with_streaming_response.create, model="echo-1", messages=m),
    "beta.chat.parse": lambda c, m: c.beta.chat.completions.parse(model="echo-1", messages=m),
    "beta.responses.create": lambda c, m: c.beta.responses.create(model="echo-1", input=m[-1]["content"]),
    "responses.create str": lambda c, m: c.responses.create(model="echo-1", input=m[-1]["content"]),
    "responses.create items": lambda c, m: c.responses.create(
        model="echo-1", instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": m[-1]["content"]}]}]),
    "responses.parse": lambda c, m: c.responses.parse(model="echo-1", input=m[-1]["content"]),
    "responses.create stream=True": lambda c, m: list(c.responses.create(model="echo-1", input=m[-1]["content"],
                                                                         stream=True)),
    "responses.stream": lambda c, m: responses_stream(c.responses, model="echo-1", input=m[-1]["content"]),
    "responses.with_raw_response.create": lambda c, m: c.responses.with_raw_response.create(
        model="echo-1", input=m[-1]["content"]).parse(),
    "responses.with_streaming_response.create": lambda c, m: streaming_response(
        c.responses.with_streaming_response.create, model="echo-1", input=m[-1]["content"]),
    "responses.input_tokens.count": lambda c, m: c.responses.input_tokens.count(model="echo-1",
                                                                                input=m[-1]["content"]),
    "completions.create": lambda c, m: c.completions.create(model="echo-1", prompt=m[-1]["content"]),
}


@pytest.mark.parametrize("path", list(SYNC_PATHS))
def test_every_sync_call_path_compresses(fake_openai, counter, path):
    client = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    SYNC_PATHS[path](client, messages())
    assert 0 < counter.count(sent_context(fake_openai)) <= 40


async def _async_stream(endpoint, **kwargs):
    async with endpoint.stream(**kwargs) as stream:
        return [e async for e in stream]


async def _async_responses_stream(endpoint, **kwargs):
    async with endpoint.stream(**kwargs) as stream:
        async for _ in stream:
            pass
        return (await stream.get_final_response()).output_text


async def _async_streaming_response(method, **kwargs):
    async with method(**kwargs) as response:
        return await response.read()


ASYNC_PATHS = {
    "chat.create": lambda c, m: c.chat.completions.create(model="echo-1", messages=m),
    "chat.parse": lambda c, m: c.chat.completions.parse(model="echo-1", messages=m),
    "chat.stream": lambda c, m: _async_stream(c.chat.completions, model="echo-1", messages=m),
    "chat.with_raw_response.create": lambda c, m: c.chat.completions.with_raw_response.create(
        model="echo-1", messages=m),
    "chat.with_streaming_response.create": lambda c, m: _async_streaming_response(
        c.chat.completions.with_streaming_response.create, model="echo-1", messages=m),
    "responses.create": lambda c, m: c.responses.create(model="echo-1", input=m[-1]["content"]),
    "responses.parse": lambda c, m: c.responses.parse(model="echo-1", input=m[-1]["content"]),
    "responses.stream": lambda c, m: _async_responses_stream(c.responses, model="echo-1", input=m[-1]["content"]),
    "responses.with_raw_response.create": lambda c, m: c.responses.with_raw_response.create(
        model="echo-1", input=m[-1]["content"]),
    "responses.with_streaming_response.create": lambda c, m: _async_streaming_response(
        c.responses.with_streaming_response.create, model="echo-1", input=m[-1]["content"]),
}


@pytest.mark.parametrize("path", list(ASYNC_PATHS))
async def test_every_async_call_path_compresses(fake_openai, counter, path):
    client = wrap_openai(AsyncOpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    await ASYNC_PATHS[path](client, messages())
    assert 0 < counter.count(sent_context(fake_openai)) <= 40


@pytest.mark.parametrize("call", [lambda c: c.responses.compact(model="echo-1"),
                                  lambda c: c.responses.connect(model="echo-1"),
                                  lambda c: c.completions.create(model="echo-1", prompt=["a", "b"])])
def test_uncovered_call_paths_raise_a_clear_error(call):
    client = wrap_openai(OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0), target_tokens=40)
    with pytest.raises(UncoveredCallError, match="client.unwrapped"):
        call(client)
    assert client.unwrapped.responses.compact  # the unwrapped client is the SDK's own


def test_responses_items_keep_their_shape(fake_openai, counter):
    client = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    context = "<context>\n" + "\n\n".join(PARAGRAPHS) + "\n</context>"
    items = [{"role": "user", "content": [{"type": "input_text", "text": QUESTION}]},
             {"type": "function_call", "call_id": "c1", "name": "search", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": context}]
    client.responses.create(model="echo-1", input=items, instructions="Answer briefly.")
    sent = fake_openai.last_body
    assert sent["instructions"] == "Answer briefly."
    assert sent["input"][:2] == items[:2]
    assert sent["input"][2]["call_id"] == "c1"
    assert 0 < counter.count(CONTEXT_BLOCK.search(sent["input"][2]["output"]).group(2).strip()) <= 40


def test_unmarked_context_warns_once_per_client(fake_openai, caplog):
    client = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    plain = [{"role": "user", "content": "\n\n".join(PARAGRAPHS) + "\n\n" + QUESTION}]
    with caplog.at_level("WARNING", logger="contextzip"):
        client.chat.completions.create(model="echo-1", messages=plain)
        client.responses.create(model="echo-1", input=plain[0]["content"])
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "no marked context" in r.getMessage()]
    assert len(warnings) == 1 and "unmarked='compress'" in warnings[0].getMessage()
    assert fake_openai.last_body["input"] == plain[0]["content"]  # sent unchanged


def test_unmarked_policies(fake_openai, counter, caplog):
    plain = [{"role": "user", "content": "\n\n".join(PARAGRAPHS) + "\n\n" + QUESTION}]
    quiet = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                        compressor="truncate", unmarked="pass")
    with caplog.at_level("WARNING", logger="contextzip"):
        quiet.chat.completions.create(model="echo-1", messages=plain)
    assert not caplog.records and fake_openai.last_body["messages"] == plain
    whole = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                        compressor="truncate", unmarked="compress")
    whole.chat.completions.create(model="echo-1", messages=plain)
    sent = fake_openai.last_body["messages"][0]["content"]
    assert isinstance(sent, str) and sent.endswith("\n\n" + QUESTION)
    assert counter.count(sent[: -len(QUESTION)].strip()) <= 40
    tool = [{"role": "user", "content": QUESTION},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "\n\n".join(PARAGRAPHS)}]
    whole.chat.completions.create(model="echo-1", messages=tool)
    sent = fake_openai.last_body["messages"]
    assert sent[:2] == tool[:2] and isinstance(sent[2]["content"], str)
    assert 0 < counter.count(sent[2]["content"]) <= 40
    with pytest.raises(ValueError, match="unmarked must be one of"):
        wrap_openai(OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k"), target_tokens=5, unmarked="silent")


@pytest.mark.parametrize("view", [
    lambda c: c.with_raw_response.chat.completions.create(model="echo-1", messages=messages()).parse(),
    lambda c: c.with_streaming_response.chat.completions.create(model="echo-1", messages=messages()).__enter__(),
    lambda c: c.with_raw_response.responses.create(model="echo-1", input=messages()[-1]["content"]).parse(),
    lambda c: c.with_options(timeout=10).chat.completions.create(model="echo-1", messages=messages()),
    lambda c: c.copy(max_retries=0).responses.create(model="echo-1", input=messages()[-1]["content"]),
], ids=["client.with_raw_response", "client.with_streaming_response", "client.with_raw_response.responses",
        "with_options", "copy"])
def test_client_level_views_and_copies_compress_too(fake_openai, counter, view):
    client = wrap_openai(OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor="truncate")
    view(client)
    assert 0 < counter.count(sent_context(fake_openai)) <= 40
    assert isinstance(client.with_options(timeout=5), CompressingOpenAI)


class _Slow:
    """A truncate compressor that takes 0.4 s a pass (a stand-in for a model's forward pass)."""

    @staticmethod
    def make():  # type: ignore[no-untyped-def]
        import time

        from contextzip.compressors.truncate import TruncateCompressor

        class Slow(TruncateCompressor):
            def compress_batch(self, items, *, target_tokens=None, rate=None):  # type: ignore[no-untyped-def]
                time.sleep(0.4)
                return super().compress_batch(items, target_tokens=target_tokens, rate=rate)

        return Slow()


async def _ticks_during(call) -> int:  # type: ignore[no-untyped-def]
    import asyncio

    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        await call()
    finally:
        done = True
        await task
    return ticks


async def test_async_create_compresses_off_the_event_loop(fake_openai):
    # AsyncOpenAI's create is a decorated plain function: compression used to run on the loop and block it.
    client = wrap_openai(AsyncOpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0), target_tokens=40,
                         compressor=_Slow.make())
    ticks = await _ticks_during(lambda: client.chat.completions.create(model="echo-1", messages=messages()))
    assert ticks >= 10, f"the event loop ran only {ticks} ticks in a 0.4 s compression"
