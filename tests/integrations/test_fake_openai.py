"""contextzip.testing: the fake OpenAI-compatible server, through the real openai and anthropic SDKs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from anthropic import Anthropic
from openai import OpenAI

from contextzip.testing import FakeOpenAIServer, fake_openai_server


def test_echo_reply_stream_and_records():
    with fake_openai_server() as server:
        assert isinstance(server, FakeOpenAIServer) and server.base_url == f"{server.url}/v1"
        client = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        messages = [{"role": "user", "content": "Hi"}]
        assert client.chat.completions.create(model="echo-1", messages=messages).choices[0].message.content == (
            "echo: 1 messages, 2 characters")
        record = server.received[-1]
        assert record["path"] == "/v1/chat/completions" and record["headers"]["authorization"] == "Bearer k"
        assert server.last_body == {"model": "echo-1", "messages": messages}
        server.reply = "Paris\nbecause it is the capital"
        stream = client.chat.completions.create(model="echo-1", messages=messages, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream) == server.reply
        assert [m.id for m in client.models.list().data] == ["echo-1"]
        reply = Anthropic(base_url=server.url, api_key="k", max_retries=0).messages.create(
            model="echo-1", max_tokens=8, messages=messages)
        assert reply.content[0].text == "echo: 1 messages" and server.received[-1]["path"] == "/v1/messages"


def test_special_models():
    import openai

    with fake_openai_server(reply="fixed") as server:
        client = OpenAI(base_url=server.base_url, api_key="secret-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match="secret-key"):
            client.chat.completions.create(model="error-401", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="error-500", messages=[{"role": "user", "content": "x"}])


def test_package_import_is_light():
    code = "import sys, contextzip.testing as t; print('fastapi' in sys.modules, 'run_in_thread' in dir(t))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True"], out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import contextzip.testing

        contextzip.testing.nope  # noqa: B018
