"""Readers: prompts, reply cleaning, the OpenAI reader against a local test server, SmolLM2 (slow)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _ChatServer:
    """A tiny OpenAI-compatible /v1/chat/completions endpoint on 127.0.0.1 that records requests."""

    def __init__(self, reply: str = "Paris") -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                payload = json.dumps({
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": server.reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server() -> Iterator[_ChatServer]:
    with _ChatServer(" Answer: Paris\nbecause it is the capital") as server:
        yield server


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


def test_openai_reader_against_local_server(chat_server: _ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
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
