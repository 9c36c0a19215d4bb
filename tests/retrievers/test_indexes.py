from __future__ import annotations

import numpy as np
import pytest

from contextzip.retrievers import INDEX_TYPES, BinaryIndex, FlatIndex, HNSWIndex, IVFPQIndex, make_index


def _vectors(n=600, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(12, d))
    x = centers[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(INDEX_TYPES))
def test_each_index_finds_itself_removes_filters_and_round_trips(name, tmp_path):
    x = _vectors()
    labels = np.arange(100, 100 + len(x))
    index = make_index(name)
    index.add(x, labels)
    assert len(index) == len(x) and index.nbytes() > 0
    scores, found = index.search(x[:20], 5)
    assert found.shape == (20, 5) and np.all(np.diff(scores, axis=1) <= 1e-5)
    assert np.mean(found[:, 0] == labels[:20]) >= 0.8  # approximate indexes may miss a few

    index.remove(labels[:10])
    assert len(index) == len(x) - 10
    _, found = index.search(x[:10], 5)
    assert not set(found.ravel().tolist()) & set(labels[:10].tolist())

    allowed = labels[300:310]
    _, found = index.search(x[:3], 5, allowed=allowed)
    assert set(found.ravel().tolist()) - {-1} <= set(allowed.tolist())
    assert (found >= 0).sum(1).min() >= 1

    index.save(str(tmp_path))
    loaded = type(index).load(str(tmp_path))
    assert type(loaded) is type(index) and len(loaded) == len(index)
    np.testing.assert_array_equal(loaded.search(x[20:25], 3)[1], index.search(x[20:25], 3)[1])


def test_compressed_indexes_are_smaller_than_flat():
    x = _vectors(n=2000, d=64)
    sizes = {}
    for name in INDEX_TYPES:
        index = make_index(name)
        index.add(x, np.arange(len(x)))
        sizes[name] = index.nbytes()
    assert sizes["binary"] * 10 < sizes["flat"]
    assert sizes["ivfpq"] * 4 < sizes["flat"]  # codebooks weigh on a small index
    assert sizes["int8"] * 3 < sizes["flat"]
    assert sizes["hnsw"] > sizes["flat"]


def test_binary_rescoring_uses_float_vectors():
    x = _vectors(n=300)
    flat, binary = FlatIndex(), BinaryIndex(rescore_multiplier=300)
    for index in (flat, binary):
        index.add(x, np.arange(len(x)))
    # with every vector as a candidate, float re-scoring is exact
    np.testing.assert_array_equal(binary.search(x[:5], 10)[1], flat.search(x[:5], 10)[1])
    assert binary.rescore_nbytes() == 300 * 32 * 4


def test_ivfpq_trains_on_a_tiny_first_add_and_rejects_bad_arguments():
    index = IVFPQIndex()
    index.add(_vectors(n=5), np.arange(5))
    assert len(index) == 5
    with pytest.raises(ValueError, match="at least 2"):
        IVFPQIndex().add(_vectors(n=1), [0])
    with pytest.raises(ValueError, match="nprobe"):
        IVFPQIndex(nprobe=0)
    with pytest.raises(ValueError, match="m must be"):
        HNSWIndex(m=0)
    with pytest.raises(ValueError, match="index must be one of"):
        make_index("annoy")


def test_hnsw_filtered_search_is_not_cut_short():
    x = _vectors(n=1000)
    index = HNSWIndex(ef_search=8)
    index.add(x, np.arange(1000))
    allowed = np.arange(990, 1000)
    _, found = index.search(x[:4], 10, allowed=allowed)
    assert ((found >= 0).sum(1) == 10).all()
