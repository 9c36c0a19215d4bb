"""Content-addressed caches: the byte-bounded LRU, the Redis backend against a real redis-server, keys, hit
rates, and the same outputs with and without the cache for sentence embeddings and token keep probabilities."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from contextzip.cache import (
    ArrayCache,
    CacheBackend,
    MemoryCache,
    RedisCache,
    cache_from_url,
    resolve_cache,
    weights_fingerprint,
)

DOCS = [
    {"text": "The Elbe flows through Dresden. It reaches the North Sea at Cuxhaven. Its source is in the Krkonose.",
     "metadata": {"title": "Elbe"}},
    {"text": "Dresden is the capital of Saxony. The city lies on the Elbe. It is known for its baroque old town.",
     "metadata": {"title": "Dresden"}},
    {"text": "Hamburg is a port city. The Elbe divides it. Its harbour is the third busiest in Europe.",
     "metadata": {"title": "Hamburg"}},
]


def test_memory_cache_is_an_lru_bounded_by_bytes():
    cache = MemoryCache(max_bytes=300)
    assert isinstance(cache, CacheBackend)
    cache.set_many({f"k{i}": bytes(90) for i in range(3)})  # 3 x 92 bytes
    assert cache.get_many(["k0"]) == [bytes(90)]  # k0 is now the most recent
    cache.set_many({"k3": bytes(90)})  # evicts k1, the least recently used
    assert cache.get_many(["k0", "k1", "k2", "k3"]) == [bytes(90), None, bytes(90), bytes(90)]
    assert cache.nbytes <= 300 and len(cache) == 3
    cache.set_many({"big": bytes(1000)})  # larger than the whole cache: not stored, nothing evicted
    assert cache.get_many(["big"]) == [None] and len(cache) == 3


def test_array_cache_computes_only_misses_and_counts_hits():
    cache = ArrayCache(MemoryCache(), lambda: "model|v1")
    computed = []

    def compute(texts):
        computed.append(list(texts))
        return [(np.full(3, len(t), dtype=np.float32), np.arange(len(t))) for t in texts]

    first = cache.lookup(["ab", "abc", "ab"], compute)
    assert computed == [["ab", "abc"]]
    second = cache.lookup(["abc", "xyz"], compute)
    assert computed[-1] == ["xyz"]
    np.testing.assert_array_equal(second[0][0], first[1][0])
    np.testing.assert_array_equal(second[0][1], np.arange(3))
    assert cache.stats.hits == 1 and cache.stats.misses == 4 and cache.stats.hit_rate == pytest.approx(0.2)
    other = ArrayCache(cache.backend, "model|v2")  # another model or revision: other keys
    assert other.key("ab") != cache.key("ab") and other.get_many(["ab"]) == [None]
    assert cache.key("\ud800") != cache.key("\ufffd")  # lone surrogates hash as themselves


def test_weights_fingerprint_follows_the_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    (tmp_path / "config.json").write_text("{}")
    before = weights_fingerprint(str(tmp_path))
    other = tmp_path.parent / (tmp_path.name + "-retrained")
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"b" * 100)
    assert weights_fingerprint(str(other)) != before
    assert weights_fingerprint("some/hub-id") == weights_fingerprint("some/hub-id")


def test_cache_urls_and_arguments():
    assert isinstance(cache_from_url("memory"), MemoryCache)
    assert cache_from_url("memory:2").max_bytes == 2 * 1024 * 1024
    for bad in ("memory:x", "memcached://x", "memory:0"):
        with pytest.raises(ValueError):
            cache_from_url(bad)
    assert resolve_cache(False) is None
    with pytest.raises(TypeError, match="cache must be"):
        resolve_cache(42)


def test_embeddings_and_query_guided_outputs_identical_with_cache(query_guided):
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.models import SentenceEmbedder

    plain = SentenceEmbedder(cache=False)
    cached = SentenceEmbedder(cache=MemoryCache())
    texts = [d["text"] for d in DOCS] + ["Which river flows through Dresden?"]
    np.testing.assert_array_equal(cached.encode(texts), plain.encode(texts))
    np.testing.assert_array_equal(cached.encode(texts[::-1]), plain.encode(texts)[::-1])  # all hits
    assert cached.cache.stats.hits == len(texts) and cached.cache.stats.misses == len(texts)
    assert "minilm" in cached.cache.namespace

    with_cache = QueryGuidedCompressor(embedder=SentenceEmbedder(cache=MemoryCache()))
    questions = ["Which river flows through Dresden?", "Where does the Elbe reach the sea?",
                 "Which river flows through Dresden?"]
    for q in questions:
        for budget in (20, 35):
            assert (with_cache.compress(DOCS, q, target_tokens=budget).text
                    == query_guided.compress(DOCS, q, target_tokens=budget).text)
    assert with_cache.embedder.cache.stats.hits > 0


@pytest.mark.slow
def test_token_keep_probabilities_identical_with_cache():
    from contextzip.compressors.token_scorer import TokenKeepScorer

    texts = [d["text"] for d in DOCS]
    plain = TokenKeepScorer(cache=False).score(texts)
    scorer = TokenKeepScorer(cache=MemoryCache())
    for _ in range(2):
        got = scorer.score(texts)
        for a, b in zip(got, plain, strict=True):
            for field in ("starts", "ends", "probs", "punct"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert scorer.cache.stats.hits == 3 and scorer.cache.stats.misses == 3


@pytest.fixture(scope="module")
def redis_url():
    """A real redis-server (Debian package) on a free loopback port, for this module."""
    pytest.importorskip("redis", reason="the redis client is not installed (pip install 'contextzip-rag[cache]')")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; `make install` does it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.skip("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_backend_is_shared_between_instances(redis_url):
    one, two = RedisCache(redis_url, prefix="t1:"), cache_from_url(redis_url)
    assert isinstance(two, RedisCache) and isinstance(one, CacheBackend)
    one.set_many({"a": b"\x00\x01", "b": b"x"})
    assert one.get_many(["a", "b", "c"]) == [b"\x00\x01", b"x", None]
    assert RedisCache(redis_url, prefix="t1:").get_many(["a"]) == [b"\x00\x01"]
    assert two.get_many(["a"]) == [None]  # another prefix
    assert one.get_many([]) == []


def test_embedder_on_redis_matches_uncached(redis_url):
    from contextzip.models import SentenceEmbedder

    texts = [d["text"] for d in DOCS]
    expected = SentenceEmbedder(cache=False).encode(texts)
    first = SentenceEmbedder(cache=RedisCache(redis_url, prefix="emb:"))
    np.testing.assert_array_equal(first.encode(texts), expected)
    replica = SentenceEmbedder(cache=RedisCache(redis_url, prefix="emb:"))  # another replica: all hits
    np.testing.assert_array_equal(replica.encode(texts), expected)
    assert replica.cache.stats.hits == len(texts) and replica.cache.stats.misses == 0
