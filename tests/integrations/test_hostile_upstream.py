"""The proxy against an upstream that tries every trick (issue 14.6, 14.7, 14.8): the key split across stream
chunks or JSON-escaped in error bodies never reaches the client; refused, slow, 5xx, malformed SSE, death
mid-stream and a client that disconnects are all survived; hard request bodies get a clear 400."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from contextzip.integrations.server import ServerConfig, create_app
from contextzip.integrations.server.redaction import Redactor
from contextzip.testing.fixtures import run_in_thread

KEY = "sk-up/stream-Secret-0123456789abcdef"
ESCAPED = "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(KEY)).replace("/", "\\/")


def hostile_upstream():
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = body.get("model")
        if model == "split-key":  # the key split across two network chunks of one event
            half = len(KEY) // 2

            async def events():
                yield f'data: {{"choices": [{{"delta": {{"content": "{KEY[:half]}'.encode()
                await asyncio.sleep(0.05)
                yield f'{KEY[half:]}"}}}}]}}\n\n'.encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        if model == "escaped-key-error":
            raw = '{"error": {"message": "bad key ' + ESCAPED + '", "type": "invalid_request_error"}}'
            return Response(raw.encode(), status_code=401, media_type="application/json")
        if model == "escaped-key-ok":
            raw = '{"choices": [{"message": {"role": "assistant", "content": "' + ESCAPED + '"}}]}'
            return Response(raw.encode(), media_type="application/json")
        if model == "escaped-key-stream":
            async def escaped():
                yield ('data: {"choices": [{"delta": {"content": "' + ESCAPED[:7]).encode()
                yield (ESCAPED[7:] + '"}}]}\n\n').encode()

            return StreamingResponse(escaped(), media_type="text/event-stream")
        if model == "plain-500":
            return PlainTextResponse(f"boom {KEY}", status_code=500)
        if model == "malformed-sse":
            async def garbage():
                yield b"data: {not json\n\nevent: ???\ndata:\x00\xff\n\n"

            return StreamingResponse(garbage(), media_type="text/event-stream")
        if model == "dies":
            async def dying():
                yield b'data: {"choices": [{"delta": {"content": "partial"}}]}\n\n'
                await asyncio.sleep(0.05)
                raise RuntimeError("upstream process died")

            return StreamingResponse(dying(), media_type="text/event-stream")
        if model == "slow":
            await asyncio.sleep(3)
        if model == "slow-stream":
            async def slow():
                for _ in range(50):
                    yield b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
                    await asyncio.sleep(0.1)

            return StreamingResponse(slow(), media_type="text/event-stream")
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": "ok"}}]})

    return app


@pytest.fixture(scope="module")
def upstream():
    with run_in_thread(hostile_upstream()) as url:
        yield f"{url}/v1"


@contextlib.contextmanager
def proxy(upstream_url: str, **options):
    config = ServerConfig(upstream=upstream_url, upstream_api_key=KEY, compressor="truncate", warm_up=False,
                          **options)
    with run_in_thread(create_app(config)) as url:
        yield url


def post(url: str, model: str, stream: bool = False, **kwargs) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=kwargs.pop("timeout", 30), **kwargs)


def leaked(text: str) -> bool:
    decoded = text
    with contextlib.suppress(ValueError):
        decoded = json.dumps(json.loads(text), ensure_ascii=False)
    lines = [ln[5:].strip() for ln in text.splitlines() if ln.startswith("data:")]
    for ln in lines:
        with contextlib.suppress(ValueError):
            decoded += json.dumps(json.loads(ln), ensure_ascii=False)
    return KEY in text or KEY in decoded or KEY in text.replace("\\/", "/")


@pytest.mark.parametrize("model,stream", [("split-key", True), ("escaped-key-error", False),
                                          ("escaped-key-ok", False), ("escaped-key-stream", True),
                                          ("plain-500", False)])
def test_the_key_never_reaches_the_client(upstream, model, stream):
    with proxy(upstream) as url:
        resp = post(url, model, stream)
    assert not leaked(resp.text), resp.text
    assert "[REDACTED]" in resp.text


def test_redactor_rolling_window_across_chunks():
    stream = Redactor(KEY).stream()
    raw = ("x" * 70_000 + KEY + "y" * 10).encode()  # no event ends: the rolling window
    pieces = [raw[i:i + 997] for i in range(0, len(raw), 997)]
    out = b"".join(stream.feed(p) for p in pieces) + stream.flush()
    assert KEY.encode() not in out and out.count(b"[REDACTED]") == 1


def test_metrics_need_the_token_when_one_is_set(upstream):
    with proxy(upstream, auth_token="proxy-token") as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/metrics", params={"format": "prometheus"}).status_code == 401
        ok = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer proxy-token"})
        assert ok.status_code == 200 and "requests_total" in ok.json()
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_hard_request_bodies(upstream):
    with proxy(upstream) as url:
        deep = b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        resp = httpx.post(f"{url}/v1/chat/completions", content=deep, timeout=30,
                          headers={"content-type": "application/json"})
        assert resp.status_code == 400 and "nested too deeply" in resp.json()["error"]["message"]
        nan = b'{"model": "ok", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}'
        resp = httpx.post(f"{url}/v1/chat/completions", content=nan, timeout=30)
        assert resp.status_code == 400 and "NaN" in resp.json()["error"]["message"]
        assert post(url, "ok").status_code == 200  # still serving


def test_faults_at_the_upstream(upstream):
    with proxy(upstream, upstream_timeout=1.0) as url:
        died = post(url, "dies", stream=True)
        assert died.status_code == 200 and "partial" in died.text
        assert "upstream_stream_broken" in died.text  # never a clean end
        assert post(url, "slow").status_code == 504
        assert post(url, "plain-500").status_code == 500
        bad = post(url, "malformed-sse", stream=True)
        assert bad.status_code == 200 and "{not json" in bad.text  # relayed as it came, the proxy unharmed
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=10,  # a client that goes away mid-stream
                          json={"model": "slow-stream", "stream": True, "messages": []}) as r:
            first = next(r.iter_bytes())
        assert b"data:" in first
        assert post(url, "ok").status_code == 200
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with proxy(f"http://127.0.0.1:{port}/v1") as url:
        refused = post(url, "ok")
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "upstream_unreachable"
