"""The ONNX Runtime int8 path for MiniLM: exported once into the contextzip cache, close to torch's embeddings,
a drop-in embedder for query-guided compression."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'contextzip-rag[onnx]')")

from contextzip.engine import ScoringEngine  # noqa: E402
from contextzip.models import SentenceEmbedder  # noqa: E402
from contextzip.onnx_embedder import OnnxSentenceEmbedder, export_onnx  # noqa: E402

TEXTS = ["The Elbe flows through Dresden.", "Which river flows through Hamburg?",
         "Hamburg is a port city; its harbour is among the busiest in Europe.", "x"]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("onnx"))
    export_onnx("minilm", quantize=True, folder=folder)
    return folder


@pytest.mark.slow
def test_export_once_and_embeddings_close_to_torch(onnx_dir, monkeypatch):
    path = export_onnx("minilm", quantize=True, folder=onnx_dir)
    mtime = os.path.getmtime(path)
    assert export_onnx("minilm", quantize=True, folder=onnx_dir) == path and os.path.getmtime(path) == mtime
    monkeypatch.setattr("contextzip.onnx_embedder._onnx_dir", lambda: onnx_dir)
    emb = OnnxSentenceEmbedder(num_threads=1)
    got = emb.encode(TEXTS)
    ref = SentenceEmbedder(engine=ScoringEngine(dtype="float32")).encode(TEXTS)
    assert got.shape == ref.shape == (4, emb.dimension) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * ref).sum(1).min() > 0.95
    np.testing.assert_array_equal(emb.encode(TEXTS[::-1]), got[::-1])  # batching and order do not matter
    assert emb.encode([]).shape == (0, emb.dimension)


@pytest.mark.slow
def test_drop_in_embedder_for_query_guided(onnx_dir, monkeypatch):
    from contextzip.cache import MemoryCache
    from contextzip.compressors.query_guided import QueryGuidedCompressor

    monkeypatch.setattr("contextzip.onnx_embedder._onnx_dir", lambda: onnx_dir)
    embedder = OnnxSentenceEmbedder(cache=MemoryCache())
    comp = QueryGuidedCompressor(embedder=embedder)
    docs = [TEXTS[0] + " " + TEXTS[2]] * 3
    first = comp.compress(docs, TEXTS[1], target_tokens=15)
    assert 0 < first.compressed_tokens <= 15
    assert comp.compress(docs, TEXTS[1], target_tokens=15).text == first.text
    assert embedder.cache.stats.hits > 0 and embedder.cache.namespace.startswith("embed-onnx-int8|minilm")
    assert embedder.engine.batch_size == 1  # with a cache, a vector must not depend on its batch
    texts = TEXTS * 3
    np.testing.assert_array_equal(embedder.encode(texts[::-1])[::-1],
                                  OnnxSentenceEmbedder(cache=False, batch_size=1).encode(texts))
