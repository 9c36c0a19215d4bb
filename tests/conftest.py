"""Shared fixtures: offline hub, the shared evaluation data (skipped when absent), one token counter, a local
OpenAI-compatible chat endpoint."""

from __future__ import annotations

import json
import os
import pathlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = pathlib.Path(os.environ.get("CONTEXTZIP_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"evaluation data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(scope="session")
def counter():
    from contextzip.tokens import get_token_counter

    return get_token_counter("o200k_base")


@pytest.fixture(scope="session")
def query_guided():
    """One loaded QueryGuidedCompressor per session (MiniLM loads once)."""
    from contextzip.compressors.query_guided import QueryGuidedCompressor

    compressor = QueryGuidedCompressor()
    compressor.warm_up()
    return compressor


class ChatServer:
    """A tiny OpenAI-compatible ``/v1/chat/completions`` endpoint on 127.0.0.1 that answers ``reply`` to every
    request and records each one (path, Authorization header, JSON body) in ``requests``."""

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

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A running :class:`ChatServer` (``base_url`` ends in ``/v1``); set ``chat_server.reply`` to change its answer."""
    with ChatServer() as server:
        yield server
