"""The compressing proxy end to end: the real openai client -> proxy -> the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from click.testing import CliRunner
from integration_samples import PARAGRAPHS, QUESTION, import_error_without
from openai import OpenAI

from contextzip.cli import cli
from contextzip.integrations.messages import CONTEXT_BLOCK
from contextzip.integrations.server import ServerConfig, create_app
from contextzip.testing.fixtures import run_in_thread

UPSTREAM_KEY = "sk-upstream-secret-0123456789"


@contextlib.contextmanager
def proxy(upstream: str, **options):
    """A proxy in front of ``upstream`` (a base URL with its /v1), on a free port: yields its URL."""
    options.setdefault("compressor", "truncate")
    config = ServerConfig(upstream=upstream, upstream_api_key=UPSTREAM_KEY, **options)
    with run_in_thread(create_app(config)) as url:
        yield url


def messages(question: str = QUESTION):
    return [{"role": "system", "content": "Answer from the context only."},
            {"role": "user", "content": "<context>\n" + "\n\n".join(PARAGRAPHS) + f"\n</context>\n\n{question}"}]


def client(url: str, key: str = "client-key") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def last(server) -> dict:
    return server.received[-1]


def context_tokens(counter, body: dict) -> int:
    return counter.count(CONTEXT_BLOCK.search(body["messages"][-1]["content"]).group(2).strip())


def test_end_to_end_compresses_context_only(fake_openai, counter):
    server = fake_openai
    with proxy(server.base_url, target_tokens=50) as url:
        raw = client(url).chat.completions.with_raw_response.create(model="echo-1", messages=messages())
        reply = raw.parse()
        assert reply.choices[0].message.content.startswith("echo:")
        got = last(server)
        assert got["body"]["messages"][0] == messages()[0]
        assert got["body"]["messages"][1]["content"].endswith(f"</context>\n\n{QUESTION}")
        assert 0 < context_tokens(counter, got["body"]) <= 50
        assert got["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"  # never the client's key
        assert int(raw.headers["x-contextzip-compressed-tokens"]) <= 50
        assert int(raw.headers["x-contextzip-target-tokens"]) == 50
        assert float(raw.headers["x-contextzip-overhead-ms"]) >= 0
        metrics = httpx.get(f"{url}/metrics").json()
        assert metrics["requests_total"] == 1 and metrics["requests_compressed"] == 1
        assert metrics["tokens_saved"] == metrics["tokens_in"] - metrics["tokens_out"] > 0
        assert metrics["latency_ms"]["proxy_overhead_p50"] is not None
        prom = httpx.get(f"{url}/metrics", params={"format": "prometheus"})
        assert prom.headers["content-type"].startswith("text/plain")
        assert 'contextzip_requests_total{code="200"} 1.0' in prom.text
        assert "contextzip_requests_compressed_total 1.0" in prom.text
        assert "contextzip_proxy_overhead_seconds_count 1.0" in prom.text
        assert "contextzip_compression_batch_size_count 1.0" in prom.text
        assert "contextzip_compression_queue_depth 0.0" in prom.text


def test_streaming_is_passed_through(fake_openai, counter):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40) as url:
        stream = client(url).chat.completions.create(model="echo-1", messages=messages(), stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        assert text.startswith("echo: 2 messages")
        assert last(server)["body"]["stream"] is True
        assert context_tokens(counter, last(server)["body"]) <= 40


def test_models_healthz(fake_openai):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40) as url:
        assert [m.id for m in client(url).models.list().data] == ["echo-1"]
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}


def test_per_request_budget_and_compressor(fake_openai, counter):
    server = fake_openai
    with proxy(server.base_url, target_tokens=200, compressor="query-guided", warm_up=False) as url:
        c = client(url)
        c.chat.completions.create(model="echo-1", messages=messages(),
                                  extra_body={"contextzip": {"target_tokens": 30, "compressor": "truncate"}})
        assert "contextzip" not in last(server)["body"]  # the extension field is not forwarded
        assert context_tokens(counter, last(server)["body"]) <= 30
        c.chat.completions.create(model="echo-1", messages=messages(),
                                  extra_headers={"X-ContextZip-Rate": "0.2", "X-ContextZip-Compressor": "truncate"})
        assert context_tokens(counter, last(server)["body"]) <= int(0.2 * counter.count("\n\n".join(PARAGRAPHS)))
        c.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": QUESTION}],
                                  extra_body={"contextzip": {"documents": PARAGRAPHS, "target_tokens": 35,
                                                             "compressor": "truncate"}})
        assert context_tokens(counter, last(server)["body"]) <= 35


@pytest.mark.parametrize("extra_body, message", [
    ({"contextzip": {"target_tokens": 0}}, "target_tokens must be > 0"),
    ({"contextzip": {"target_tokens": 5, "rate": 0.5}}, "not both"),
    ({"contextzip": {"compressor": "nope"}}, "compressor must be one of"),
    ({"contextzip": {"budget": 5}}, "options must be among"),
    ({"contextzip": "x"}, "must be an object"),
])
def test_bad_options_are_clear_400s(fake_openai, extra_body, message):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40) as url:
        with pytest.raises(openai.BadRequestError, match=message) as info:
            client(url).chat.completions.create(model="echo-1", messages=messages(), extra_body=extra_body)
        assert info.value.status_code == 400


def test_bad_bodies(fake_openai):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40, max_request_bytes=4000) as url:
        r = httpx.post(f"{url}/v1/chat/completions", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"]["message"] == "request body is not valid JSON"
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "echo-1"})
        assert r.status_code == 400 and "'messages'" in r.json()["error"]["message"]
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "echo-1", "messages": ["x"]})
        assert r.status_code == 400 and "message 0" in r.json()["error"]["message"]
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "echo-1", "messages": messages() * 20})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_client_bearer_auth(fake_openai):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40, auth_token="proxy-token") as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, key="wrong").chat.completions.create(model="echo-1", messages=messages())
        with pytest.raises(openai.AuthenticationError):
            client(url, key="wrong").models.list()
        client(url, key="proxy-token").chat.completions.create(model="echo-1", messages=messages())
        assert last(server)["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_upstream_key_never_in_responses_or_logs(fake_openai, caplog):
    server = fake_openai
    caplog.set_level(logging.DEBUG)
    with proxy(server.base_url, target_tokens=40) as url:
        with pytest.raises(openai.AuthenticationError) as info:
            client(url).chat.completions.create(model="error-401", messages=messages())
        assert UPSTREAM_KEY not in str(info.value.body) and "[REDACTED]" in str(info.value.body)
        with pytest.raises(openai.InternalServerError, match="upstream returned HTTP 500"):
            client(url).chat.completions.create(model="error-500", messages=messages())
        assert UPSTREAM_KEY not in httpx.get(f"{url}/metrics").text
    assert UPSTREAM_KEY not in caplog.text
    assert UPSTREAM_KEY not in repr(ServerConfig(upstream=server.base_url, upstream_api_key=UPSTREAM_KEY))


def test_upstream_timeout_and_unreachable(fake_openai):
    server = fake_openai
    with proxy(server.base_url, target_tokens=40, upstream_timeout=0.3) as url:
        with pytest.raises(openai.APIStatusError) as info:
            client(url).chat.completions.create(model="slow", messages=messages())
        assert info.value.status_code == 504 and "did not answer" in info.value.message
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with proxy(f"http://127.0.0.1:{closed}/v1", target_tokens=40, connect_timeout=2.0) as url:
        with pytest.raises(openai.APIStatusError) as info:
            client(url).chat.completions.create(model="echo-1", messages=messages())
        assert info.value.status_code == 502 and "unreachable" in info.value.message
        metrics = httpx.get(f"{url}/metrics").json()
        assert metrics["responses_5xx"] == 1


def test_without_budget_requests_pass_through(fake_openai):
    server = fake_openai
    with proxy(server.base_url) as url:
        client(url).chat.completions.create(model="echo-1", messages=messages())
        assert last(server)["body"]["messages"] == messages()


def test_no_context_is_left_alone(fake_openai):
    server = fake_openai
    with proxy(server.base_url, target_tokens=10) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="echo-1", messages=[{"role": "user", "content": QUESTION}])
        assert raw.headers["x-contextzip-status"] == "no context found"
        assert last(server)["body"]["messages"] == [{"role": "user", "content": QUESTION}]


def test_concurrent_clients_all_within_budget(fake_openai, counter):
    server = fake_openai
    with proxy(server.base_url, target_tokens=45) as url:
        c = client(url)

        def ask(i: int) -> str:
            return c.chat.completions.create(model="echo-1", messages=messages(f"{QUESTION} #{i}")).choices[0].message.content

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(24)))
        assert all(a.startswith("echo:") for a in answers)
        bodies = [r["body"] for r in list(server.received)[-24:]]
        assert sorted(b["messages"][1]["content"].rsplit("#", 1)[1] for b in bodies) == sorted(map(str, range(24)))
        assert all(context_tokens(counter, b) <= 45 for b in bodies)
        assert httpx.get(f"{url}/metrics").json()["responses_2xx"] == 24


@pytest.mark.slow
def test_default_compressor_through_proxy(fake_openai, counter, query_guided):
    server = fake_openai
    with proxy(server.base_url, target_tokens=60, compressor=query_guided) as url:
        client(url).chat.completions.create(model="echo-1", messages=messages())
        content = last(server)["body"]["messages"][1]["content"]
        assert "Marta Lindqvist" in content and context_tokens(counter, last(server)["body"]) <= 60


def test_metrics_snapshot_and_registry_per_app():
    from contextzip.integrations.server.metrics import Metrics
    from contextzip.stats import percentile

    first, second = Metrics(window=3), Metrics()
    for status, total in [(200, 10.0), (200, 30.0), (400, 5.0), (502, 20.0)]:
        first.record(status, total, overhead_ms=total / 2)
    first.record_batch(4, 8.0)
    snap = first.snapshot()
    assert (snap["requests_total"], snap["responses_2xx"], snap["responses_4xx"], snap["responses_5xx"]) == (4, 2, 1, 1)
    assert snap["latency_ms"]["window"] == 3 and snap["latency_ms"]["total_p95"] == percentile([30.0, 5.0, 20.0], 0.95)
    assert snap["latency_ms"]["compression_per_request_p50"] == 2.0 and snap["mean_batch_size"] == 4
    assert second.snapshot()["requests_total"] == 0  # each app has its own registry
    assert b'contextzip_requests_total{code="502"} 1.0' in first.prometheus()


def test_serve_command_validates():
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--upstream", "ftp://example"])
    assert result.exit_code == 1 and "upstream must be an http(s) URL" in result.output
    result = runner.invoke(cli, ["serve", "--upstream", "http://127.0.0.1:1/v1", "--budget", "5", "--rate", "0.5"])
    assert result.exit_code == 2 and "at most one" in result.output
    assert "--upstream" in runner.invoke(cli, ["serve", "--help"]).output


def test_server_config_validation():
    with pytest.raises(ValueError, match="rate must be in"):
        ServerConfig(upstream="http://127.0.0.1:1/v1", rate=2.0)
    with pytest.raises(ValueError, match="compressor must be one of"):
        ServerConfig(upstream="http://127.0.0.1:1/v1", compressor="nope")
    with pytest.raises(ValueError, match="max_request_bytes"):
        ServerConfig(upstream="http://127.0.0.1:1/v1", max_request_bytes=0)
    assert json.dumps(ServerConfig(upstream="http://127.0.0.1:1/v1/").upstream) == '"http://127.0.0.1:1/v1"'


def test_missing_server_dependencies_give_the_pip_line():
    error = import_error_without("fastapi", "from contextzip.integrations.server import ServerConfig, create_app",
                                 'create_app(ServerConfig(upstream="http://127.0.0.1:1/v1"))')
    assert "pip install 'contextzip-rag[server]'" in error
