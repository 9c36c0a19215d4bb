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


STALE = ("int8.onnx", "int8-rows.onnx")  # exports of earlier int8 schemes, superseded by a new export


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    from contextzip.onnx_export import export_target

    folder = str(tmp_path_factory.mktemp("onnx"))
    prefix = export_target("minilm", "", folder)[2]
    for kind in STALE + ("other.onnx",):
        with open(prefix + kind, "wb") as f:
            f.write(b"stale")
    export_onnx("minilm", quantize=True, folder=folder)
    return folder


@pytest.mark.slow
def test_export_once_and_embeddings_close_to_torch(onnx_dir, monkeypatch):
    path = export_onnx("minilm", quantize=True, folder=onnx_dir)
    prefix = path[: -len(os.path.basename(path).split(".", 1)[1])]
    assert not any(os.path.exists(prefix + kind) for kind in STALE)  # the export removed the superseded ones
    assert os.path.exists(prefix + "other.onnx")  # and nothing else
    mtime = os.path.getmtime(path)
    assert export_onnx("minilm", quantize=True, folder=onnx_dir) == path and os.path.getmtime(path) == mtime
    monkeypatch.setattr("contextzip.onnx_export._onnx_dir", lambda: onnx_dir)
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

    monkeypatch.setattr("contextzip.onnx_export._onnx_dir", lambda: onnx_dir)
    embedder = OnnxSentenceEmbedder(cache=MemoryCache())
    comp = QueryGuidedCompressor(embedder=embedder)
    docs = [TEXTS[0] + " " + TEXTS[2]] * 3
    first = comp.compress(docs, TEXTS[1], target_tokens=15)
    assert 0 < first.compressed_tokens <= 15
    assert comp.compress(docs, TEXTS[1], target_tokens=15).text == first.text
    assert embedder.cache.stats.hits > 0 and embedder.cache.namespace.startswith("embed-onnx-int8-rows-exact|minilm")
    texts = TEXTS * 3
    np.testing.assert_array_equal(embedder.encode(texts[::-1])[::-1],
                                  OnnxSentenceEmbedder(cache=False).encode(texts))


@pytest.mark.slow
def test_a_vector_does_not_depend_on_its_batch(onnx_dir, monkeypatch):
    # Per-tensor dynamic quantization (quantize_dynamic) moved the same sentence by up to 0.035 between a batch
    # of 8 and a batch of 1; per-row scales leave only float32 rounding (padding changes the reduction order).
    monkeypatch.setattr("contextzip.onnx_export._onnx_dir", lambda: onnx_dir)
    texts = [f"{t} Number {i} of a longer batch, padded to its longest text." * (1 + i % 3)
             for i, t in enumerate(TEXTS * 4)]
    batched = OnnxSentenceEmbedder(cache=False, batch_size=8).encode(texts)
    alone = OnnxSentenceEmbedder(cache=False, batch_size=1).encode(texts)
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_quantize_rows_rewrites_every_weight_product(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from contextzip.onnx_embedder import quantize_rows

    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(16, 8)).astype(np.float32), rng.normal(size=(16, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["y1"]), helper.make_node("MatMul", ["x", "w2"], ["y2"]),
         helper.make_node("MatMul", ["y1", "t"], ["z"])],  # the last reads no constant weight: left as it is
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 16]),
              helper.make_tensor_value_info("t", TensorProto.FLOAT, [8, 2])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y1", "y2", "z")],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    source, target = str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    assert quantize_rows(source, target) == 2
    q = onnx.load(target)
    ops = [n.op_type for n in q.graph.node]
    assert ops.count("MatMulIntegerToFloat") == 2 and ops.count("MatMul") == 1 and ops.count("ReduceMax") == 1  # shared

    import onnxruntime as ort

    x = rng.normal(size=(2, 3, 16)).astype(np.float32)
    x[0] *= 100.0  # a batch-mate with large values must not change the other row's result
    t = rng.normal(size=(8, 2)).astype(np.float32)
    run = ort.InferenceSession(target, providers=["CPUExecutionProvider"]).run
    y1, y2, _ = run(None, {"x": x, "t": t})
    alone = run(None, {"x": x[1:], "t": t})[0]
    np.testing.assert_allclose(y1[1:], alone, rtol=0, atol=1e-6)
    np.testing.assert_allclose(y1, x @ w1, rtol=0.05, atol=0.05 * np.abs(x @ w1).max())
    np.testing.assert_allclose(y2, x @ w2, rtol=0.05, atol=0.05 * np.abs(x @ w2).max())


@pytest.mark.parametrize("int8_weights", [None, False, True])
def test_quantize_rows_products_are_exact_on_this_cpu(tmp_path, int8_weights):
    """The quantized product equals the same quantization done in numpy with exact integers: no int16
    saturation. int8 weights overflow ``VPMADDUBSW`` on x86 CPUs without VNNI (this failed on an AVX2 EPYC with
    them), so they are checked only where this CPU has VNNI; the default (``None``) picks a form that is exact."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from contextzip.onnx_embedder import exact_int8_weights, quantize_rows

    if int8_weights and not exact_int8_weights():
        pytest.skip("int8 weights saturate on this CPU (x86 without VNNI): the default stores them as uint8")

    rng = np.random.default_rng(1)
    w = rng.normal(size=(384, 64)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 384])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    source, target = str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    quantize_rows(source, target, int8_weights=int8_weights)
    x = rng.normal(size=(32, 384)).astype(np.float32)
    x[:, ::2] = np.abs(x[:, ::2]) * 4  # large activations where saturation would show
    got = ort.InferenceSession(target, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    w_scale = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
    w_int = np.clip(np.round(w / w_scale), -127, 127).astype(np.int64)
    a_scale = (np.abs(x).max(axis=1, keepdims=True) / 127.0).astype(np.float32)
    a_int = np.clip(np.rint(x / a_scale) + 128, 0, 255).astype(np.int64) - 128
    expected = (a_int @ w_int) * w_scale * a_scale
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())


def test_query_guided_backend_choice(monkeypatch):
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.onnx_embedder import sentence_embedder

    cpu = ScoringEngine(device="cpu")
    assert type(QueryGuidedCompressor().embedder) is OnnxSentenceEmbedder  # the CPU default
    assert type(QueryGuidedCompressor(backend="torch").embedder) is SentenceEmbedder
    assert type(QueryGuidedCompressor(dtype="float32").embedder) is SentenceEmbedder  # an explicit dtype is torch's
    assert type(sentence_embedder("minilm", cpu, "onnx")).__name__ == "OnnxSentenceEmbedder"
    monkeypatch.setattr("contextzip.onnx_embedder.onnx_available", lambda: False)
    assert type(sentence_embedder("minilm", cpu, "auto")) is SentenceEmbedder  # without onnxruntime: torch
    with pytest.raises(ValueError, match="backend must be one of"):
        QueryGuidedCompressor(backend="tensorrt")
    with pytest.raises(ValueError, match="backend must be one of"):  # also beside an embedder of one's own
        QueryGuidedCompressor(embedder=SentenceEmbedder(engine=cpu), backend="tensorrt")
    from contextzip.compressors.pipeline import CoarseToFineCompressor

    with pytest.raises(ValueError, match="backend must be one of"):  # coarse-to-fine, even with its own scorer
        CoarseToFineCompressor(sentence_scorer=QueryGuidedCompressor().scorer, backend="tensorrt")


def test_token_classifier_on_onnx_runtime_matches_torch(tmp_path, monkeypatch):
    import transformers

    from contextzip.compressors.token_classification import TokenClassificationCompressor
    from contextzip.compressors.token_scorer import TokenKeepScorer
    from contextzip.model_registry import resolve_model_path

    monkeypatch.setattr("contextzip.onnx_export._onnx_dir", lambda: str(tmp_path / "onnx"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, num_labels=2)
    folder = str(tmp_path / "tiny-clf")
    transformers.BertForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    texts = [TEXTS[2] * 40, TEXTS[0], ""]  # one text over the 512-token chunk, one short, one empty
    torch_words = TokenKeepScorer(folder, ScoringEngine(dtype="float32")).score(texts)
    onnx_words = TokenKeepScorer(folder, ScoringEngine(dtype="float32"), backend="onnx").score(texts)
    for a, b in zip(torch_words, onnx_words, strict=True):
        np.testing.assert_array_equal(a.starts, b.starts)
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
    from contextzip.onnx_embedder import export_token_classifier

    exported = export_token_classifier(folder)  # in a folder of its own, where external weight files can live
    assert os.path.basename(exported) == "model.onnx" and os.listdir(tmp_path / "onnx") == [
        os.path.basename(os.path.dirname(exported))]
    comp = TokenClassificationCompressor(folder, backend="onnx")
    assert comp.compress([TEXTS[2] * 5], target_tokens=20).compressed_tokens <= 20
    with pytest.raises(ValueError, match="backend must be"):
        TokenKeepScorer(folder, backend="tensorrt")
    with pytest.raises(ValueError, match="contextzip student"):
        TokenKeepScorer("contextzip-token-clf", backend="onnx").warm_up()
