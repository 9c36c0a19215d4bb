"""GistCache: content addresses that change with the projector's weights, identical vectors on a hit, the disk
store shared by two caches, the LRU bound; and the compressor's use of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contextzip.gist.cache import DirectoryStore, GistCache, gist_key


def test_keys_change_when_projector_weights_change(make_projector) -> None:  # type: ignore[no-untyped-def]
    projector = make_projector()
    before = projector.weights_hash()
    assert projector.weights_hash() == before, "the hash is deterministic"
    key = gist_key("minilm", before, 4, "some text")
    with torch.no_grad():
        projector.ff[0].weight[0, 0] += 1e-3
    after = projector.weights_hash()
    assert after != before
    assert gist_key("minilm", after, 4, "some text") != key
    assert gist_key("minilm", before, 8, "some text") != key
    assert gist_key("minilm", before, 4, "some text.") != key
    assert gist_key("other-encoder", before, 4, "some text") != key
    assert gist_key("minilm", before, 0, "x") == gist_key("minilm", after, 0, "x"), "pooled vectors: no projector"


def test_a_hit_returns_identical_vectors_and_counts() -> None:
    cache = GistCache()
    rng = np.random.default_rng(0)
    calls = []

    def compute(missing):  # type: ignore[no-untyped-def]
        calls.append(list(missing))
        return [rng.standard_normal((k, 8)).astype(np.float32) for _, k in missing]

    wanted = [("a", 2), ("b", 2), ("a", 2)]
    first = cache.lookup("enc", "h", wanted, compute)
    assert calls == [[("a", 2), ("b", 2)]], "distinct misses, computed in one call"
    assert (cache.hits, cache.misses) == (0, 3)
    second = cache.lookup("enc", "h", wanted, compute)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (3, 3)
    for x, y in zip(first, second, strict=True):
        assert x.dtype == np.float32 and np.array_equal(x, y)
    assert np.array_equal(first[0], first[2])
    cache.lookup("enc", "other-hash", [("a", 2)], compute)
    assert len(calls) == 2, "another projector hash is another key"


def test_disk_store_round_trip_across_two_caches(tmp_path) -> None:  # type: ignore[no-untyped-def]
    vec = np.arange(12, dtype=np.float32).reshape(3, 4)
    key = gist_key("minilm", "h", 3, "passage")
    GistCache(tmp_path).set_many({key: vec})
    files = list(tmp_path.rglob("*"))
    assert [p.name for p in files if p.is_file()] == [f"{key}.npy"], "one .npy per key, no temporary files left"
    assert np.array_equal(np.load(tmp_path / key[:2] / f"{key}.npy"), vec), "a plain .npy file"
    fresh = GistCache(tmp_path)
    assert len(fresh) == 0
    (got,) = fresh.get_many([key])
    assert np.array_equal(got, vec) and fresh.hits == 1
    assert len(fresh) == 1, "a disk hit is promoted to memory"
    assert fresh.get_many([gist_key("minilm", "h", 3, "other")]) == [None] and fresh.misses == 1
    assert len(DirectoryStore(tmp_path)) == 1
    with pytest.raises(ValueError, match="hex digest"):
        DirectoryStore(tmp_path).path("../escape")


def test_memory_tier_is_bounded() -> None:
    cache = GistCache(max_bytes=3 * 600)
    rows = {gist_key("e", "h", 1, str(i)): np.zeros((1, 100), np.float32) for i in range(10)}
    cache.set_many(rows)
    assert 0 < len(cache) <= 3
    assert cache.memory.nbytes <= 3 * 600


DOCS = ["The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen.",
        "Paris is the capital of France. It is known for its museums."]


def test_compressor_hits_the_cache_across_queries_and_k(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    first = gist_compressor.compress(DOCS, "Who won?", target_tokens=16)
    misses = gist_compressor.cache.misses
    again = gist_compressor.compress(DOCS, "Another question?", target_tokens=4)  # k=2 now: same entries
    assert gist_compressor.cache.misses == misses and gist_compressor.cache.hits >= 2
    assert first.k == 8 and again.k == 2
    for a, b in zip(first.vectors, again.vectors, strict=True):
        assert np.array_equal(a[:2], b), "k=2 gists are the first two of the cached ones"
    same = gist_compressor.compress(DOCS, "Who won?", target_tokens=16)
    for a, b in zip(first.vectors, same.vectors, strict=True):
        assert np.array_equal(a, b)


def test_nested_gists_equal_projecting_with_k(gist_compressor, gist_encoder) -> None:  # type: ignore[no-untyped-def]
    from contextzip.gist.encoder import GistEncoder

    result = gist_compressor.compress(DOCS[:1], None, target_tokens=4)
    states, mask = GistEncoder.stack(gist_encoder.states([DOCS[0]]))
    with torch.no_grad():
        direct = gist_compressor.projector(states, mask, 4)[0].numpy()
    np.testing.assert_allclose(result.vectors[0], direct, atol=1e-5)


def test_changed_weights_miss_the_cache(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    before = gist_compressor.compress(DOCS, None, target_tokens=8)
    hash_before = gist_compressor.projector_hash()
    with torch.no_grad():
        gist_compressor.projector.queries[0, 0] += 0.5  # in place: the memoised hash must notice
    assert gist_compressor.projector_hash() != hash_before
    misses = gist_compressor.cache.misses
    after = gist_compressor.compress(DOCS, None, target_tokens=8)
    assert gist_compressor.cache.misses == misses + len(DOCS)
    assert not np.array_equal(before.vectors[0], after.vectors[0])


def test_compressor_disk_cache_is_shared_by_two_compressors(projector, gist_encoder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from contextzip.gist.compressor import GistCompressor

    one = GistCompressor(projector=projector, encoder=gist_encoder, cache_dir=tmp_path)
    first = one.compress(DOCS, None, target_tokens=8)
    two = GistCompressor(projector=projector, encoder=gist_encoder, cache_dir=tmp_path)
    second = two.compress(DOCS, None, target_tokens=8)
    assert two.cache.hits == len(DOCS) and two.cache.misses == 0
    for a, b in zip(first.vectors, second.vectors, strict=True):
        assert np.array_equal(a, b)


def test_the_cache_benchmark_skips_cleanly_without_the_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "gist_cache.py"
    run = subprocess.run([sys.executable, str(script), "--data-dir", str(tmp_path), "--no-write"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "skipped: no SQuAD" in run.stdout, run.stderr[-2000:]
