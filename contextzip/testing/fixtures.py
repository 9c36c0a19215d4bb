"""A fake OpenAI-compatible server, and any ASGI app served on a background thread: for tests and examples.

::

    from openai import OpenAI
    from contextzip.testing.fixtures import fake_openai_server

    with fake_openai_server() as server:
        client = OpenAI(base_url=server.base_url, api_key="not-checked")
        reply = client.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": "Hi"}])
        reply.choices[0].message.content         # "echo: 1 messages, 2 characters"
        server.last_body["messages"]             # what the server received

The fake server answers:

- ``POST /v1/chat/completions``, streamed (server-sent events) or not, with ``reply`` when it is set, else a
  summary of the request (``"echo: N messages, C characters"``); special models: ``"error-401"`` answers 401 echoing the
  ``Authorization`` header it got (to test redaction), ``"error-500"`` a plain-text 500, ``"slow"`` waits
  ``delay_s`` (or 5 s) first;
- ``GET /v1/models``: one model, ``echo-1``;
- ``POST /v1/messages``: Anthropic's Messages API, streamed or not, and ``/v1/messages/count_tokens``;
- ``POST /v1/responses`` (the Responses API, streamed or not), ``/v1/responses/input_tokens`` and
  ``/v1/completions`` (the legacy API): an echo each.

Every request is recorded as ``{"path": "/v1/...", "headers": {...}, "body": {...}}`` in ``server.received``
(the last ``max_recorded``; header names are lower-case). Needs the ``server`` extra (``pip install 'contextzip-rag[server]'``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from contextzip.integrations.server.app import require_server_extra

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
except ImportError:  # require_server_extra() names what to install
    pass

FAKE_MODEL = "echo-1"


@contextmanager
def run_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                  timeout: float = 30.0) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on a background thread; yields its URL (``http://host:port``).

    ``port=0`` picks a free port. The app's lifespan runs; the server stops when the block ends.
    """
    require_server_extra()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it (Linux): a response's headers and body go out at once, not 40 ms apart
    # (Nagle's algorithm against the client's delayed ACK cost every request 44 ms on loopback).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"server on {host}:{bound_port} did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()


@dataclass
class FakeOpenAIServer:
    """A running fake server (see the module docstring).

    Attributes:
        app: the FastAPI app; url: ``http://127.0.0.1:PORT`` (what Anthropic SDKs take as ``base_url``).
    """

    app: Any
    url: str

    @property
    def base_url(self) -> str:
        """``url`` + ``/v1``: the ``base_url`` for OpenAI SDKs and for ``contextzip serve --upstream``."""
        return f"{self.url}/v1"

    @property
    def received(self) -> collections.deque[dict[str, Any]]:
        """Every request received, oldest first: ``{"path": ..., "headers": {...}, "body": {...}}``."""
        return self.app.state.received

    @property
    def reply(self) -> str | None:
        """The text every chat completion answers; ``None`` (the default) echoes a summary of the request."""
        return self.app.state.reply

    @reply.setter
    def reply(self, text: str | None) -> None:
        self.app.state.reply = text

    @property
    def last_body(self) -> dict[str, Any]:
        """The JSON body of the latest request."""
        return self.received[-1]["body"]


@contextmanager
def fake_openai_server(reply: str | None = None, delay_s: float = 0.0,
                       max_recorded: int = 10_000) -> Iterator[FakeOpenAIServer]:
    """Run the fake server on a free loopback port for the block (arguments: :func:`create_fake_openai_app`)."""
    app = create_fake_openai_app(reply, delay_s, max_recorded)
    with run_in_thread(app) as url:
        yield FakeOpenAIServer(app, url)


def _echo_text(messages: list[dict[str, Any]]) -> tuple[str, int]:
    chars = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else 0 for m in messages)
    return f"echo: {len(messages)} messages, {chars} characters", chars


def _completion(model: str, answer: str, chars: int) -> dict[str, Any]:
    return {"id": "chatcmpl-echo", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": chars // 4, "completion_tokens": 8, "total_tokens": chars // 4 + 8}}


async def _completion_events(model: str, answer: str) -> AsyncIterator[bytes]:
    """``answer`` word by word as chat.completion.chunk server-sent events, then ``[DONE]``."""
    created = int(time.time())

    def event(delta: dict[str, str], finish_reason: str | None) -> bytes:
        chunk = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    for i, piece in enumerate(answer.split(" ")):
        yield event({"content": piece if i == 0 else " " + piece}, None)
    yield event({}, "stop") + b"data: [DONE]\n\n"


def _sse(events: list[dict[str, Any]]) -> bytes:
    """Server-sent events named by their ``type`` (the Anthropic and Responses streaming formats)."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


async def _anthropic_events(model: str, answer: str) -> AsyncIterator[bytes]:
    message = {"id": "msg_echo", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 0}}
    yield _sse([{"type": "message_start", "message": message},
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": answer}},
                {"type": "content_block_stop", "index": 0},
                {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                 "usage": {"output_tokens": 3}},
                {"type": "message_stop"}])


def _response(model: str, answer: str, done: bool = True) -> dict[str, Any]:
    item = {"type": "message", "id": "msg_echo", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": answer, "annotations": []}]}
    return {"id": "resp_echo", "object": "response", "created_at": int(time.time()),
            "status": "completed" if done else "in_progress", "model": model, "parallel_tool_calls": False,
            "tool_choice": "auto", "tools": [], "output": [item] if done else []}


async def _response_events(model: str, answer: str) -> AsyncIterator[bytes]:
    item = {"type": "message", "id": "msg_echo", "role": "assistant", "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": "msg_echo", "output_index": 0, "content_index": 0}
    events = [{"type": "response.created", "response": _response(model, "", done=False)},
              {"type": "response.output_item.added", "output_index": 0, "item": item},
              {"type": "response.content_part.added", **where, "part": part},
              {"type": "response.output_text.delta", **where, "delta": answer, "logprobs": []},
              {"type": "response.output_text.done", **where, "text": answer, "logprobs": []},
              {"type": "response.content_part.done", **where, "part": {**part, "text": answer}},
              {"type": "response.output_item.done", "output_index": 0,
               "item": _response(model, answer)["output"][0]},
              {"type": "response.completed", "response": _response(model, answer)}]
    yield _sse([{**e, "sequence_number": n} for n, e in enumerate(events)])


def _error_answer(model: str, request: Request) -> Any:
    """The answer of the special error models, or ``None`` for any other model."""
    if model == "error-401":
        auth = request.headers.get("authorization", "")
        return JSONResponse({"error": {"message": f"Incorrect API key provided: {auth}",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}}, status_code=401)
    if model == "error-500":
        return PlainTextResponse("internal upstream failure", status_code=500)
    return None


def create_fake_openai_app(reply: str | None = None, delay_s: float = 0.0, max_recorded: int = 10_000) -> FastAPI:
    """The fake server's FastAPI app, to serve yourself (``uvicorn.run(create_fake_openai_app(), port=9000)``).

    Args:
        reply: what every chat completion answers (``app.state.reply``); ``None`` echoes a request summary.
        delay_s: seconds every chat completion waits before answering.
        max_recorded: how many requests ``app.state.received`` keeps.
    """
    require_server_extra()
    app = FastAPI(title="fake OpenAI-compatible server", docs_url=None, redoc_url=None)
    app.state.received = collections.deque(maxlen=max_recorded)
    app.state.reply = reply

    async def record(request: Request) -> dict[str, Any]:
        body = await request.json()
        app.state.received.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        return body

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list",
                "data": [{"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "contextzip"}]}

    @app.post("/v1/messages")
    async def anthropic_messages(request: Request) -> Any:
        body = await record(request)
        if body.get("stream"):
            answer = f"echo: {len(body['messages'])} messages"
            return StreamingResponse(_anthropic_events(body.get("model", FAKE_MODEL), answer),
                                     media_type="text/event-stream")
        return {"id": "msg_echo", "type": "message", "role": "assistant", "model": body.get("model", FAKE_MODEL),
                "content": [{"type": "text", "text": f"echo: {len(body['messages'])} messages"}],
                "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 3}}

    @app.post("/v1/messages/count_tokens")
    async def anthropic_count_tokens(request: Request) -> Any:
        body = await record(request)
        return {"input_tokens": len(json.dumps(body["messages"])) // 4}

    @app.post("/v1/responses")
    async def responses(request: Request) -> Any:
        body = await record(request)
        items = body.get("input")
        answer = app.state.reply or f"echo: {len(items) if isinstance(items, list) else 1} input items"
        if body.get("stream"):
            return StreamingResponse(_response_events(body.get("model", FAKE_MODEL), answer),
                                     media_type="text/event-stream")
        return _response(body.get("model", FAKE_MODEL), answer)

    @app.post("/v1/responses/input_tokens")
    async def responses_input_tokens(request: Request) -> Any:
        body = await record(request)
        return {"object": "response.input_tokens", "input_tokens": len(json.dumps(body.get("input"))) // 4}

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await record(request)
        answer = app.state.reply or f"echo: {len(str(body.get('prompt')))} characters"
        return {"id": "cmpl-echo", "object": "text_completion", "created": int(time.time()),
                "model": body.get("model", FAKE_MODEL),
                "choices": [{"index": 0, "text": answer, "finish_reason": "stop", "logprobs": None}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await record(request)
        model = body.get("model", FAKE_MODEL)
        error = _error_answer(model, request)
        if error is not None:
            return error
        if model == "slow" or delay_s:
            await asyncio.sleep(delay_s or 5.0)
        answer, chars = _echo_text(body["messages"])
        answer = answer if app.state.reply is None else app.state.reply
        if body.get("stream"):
            return StreamingResponse(_completion_events(model, answer), media_type="text/event-stream")
        return _completion(model, answer, chars)

    return app
