"""A fast CPU path for the sentence embedder: MiniLM exported to ONNX, int8 quantized per token row, run by ONNX
Runtime (``pip install 'contextzip-rag[onnx]'``).

Query-guided compression spends almost all its time in MiniLM's forward pass (profiled: 98% of it). On first use
the model (with its mean pooling and L2 normalisation) is exported with ``torch.onnx.export``, every weight
matrix product is rewritten to int8 (:func:`quantize_rows`), and the file is kept in the contextzip cache
(``$CONTEXTZIP_CACHE/onnx`` or ``~/.cache/contextzip/onnx``), keyed by the weights' fingerprint;
later processes load it in well under a second. Batching is the shared engine's (length-sorted, padded per
batch). Use it as the query-guided compressor's embedder::

    QueryGuidedCompressor(embedder=OnnxSentenceEmbedder())

Why per row: ONNX Runtime's own dynamic quantization (``quantize_dynamic``) gives each activation tensor one
scale, the largest value in the whole padded batch, so a text's vector depended on its batch-mates (the same
sentence differed by up to 0.035 between batches of 8 and 1, and cached and uncached outputs differed).
:func:`quantize_rows` gives every token row its own scale: a text's vector depends on the text only, whatever the
batch, and it is closer to float32 (mean cosine 0.9974 against 0.9932 on 400 HotpotQA sentences).

``quantize=False`` exports float32 only (embeddings at cosine >= 0.9999 to torch's). See docs/benchmarks.md
("Performance") for the measured speed and answer retention against the default.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from contextzip.cache import output_cache
from contextzip.engine import ScoringEngine, cpu_info, pad_batch
from contextzip.errors import missing_dependency
from contextzip.model_registry import resolve_model_path
from contextzip.models import SentenceEmbedder, cached_model, quiet_loading
from contextzip.onnx_export import begin_export, export_graph

logger = logging.getLogger(__name__)

__all__ = ["BACKENDS", "OnnxSentenceEmbedder", "check_backend", "OnnxTokenClassifier", "export_onnx", "export_token_classifier",
           "exact_int8_weights", "onnx_available", "quantize_rows", "sentence_embedder"]

BACKENDS = ("auto", "torch", "onnx")

#: The name of :func:`quantize_rows`'s cached outputs (a new name when the scheme changes). Its int8 and uint8
#: weight forms compute the same integers, so they share it.
ROWS_KIND = "int8-rows-exact"


def exact_int8_weights() -> bool:
    """Whether this CPU multiplies uint8 by int8 without saturating: x86 with VNNI (``avx512_vnni`` or
    ``avx_vnni`` in ``/proc/cpuinfo``). Elsewhere (AVX2, AVX-512F without VNNI, or unknown) :func:`quantize_rows`
    stores the weights as uint8, whose kernel is exact everywhere."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = cpu_info()[1]
    return "avx512_vnni" in flags or "avx_vnni" in flags


def quantize_rows(source: str, target: str, int8_weights: bool | None = None) -> int:
    """Rewrite every ``MatMul`` by a constant weight matrix of the ONNX model at ``source`` as an int8 product
    with one scale per activation row (token) and one per weight column, symmetric, and save it at ``target``;
    returns how many products were rewritten.

    The activations are viewed as rows ``[M, K]`` (one per token); each row ``a`` gets the scale
    ``s = max|a| / 127`` and is quantized to uint8 with zero point 128 (``QuantizeLinear`` along the rows, so the
    values lie in [1, 255], symmetric around 128). The weights are quantized per column to [-127, 127] and stored
    as uint8 with zero point 128 as well. ONNX Runtime's ``MatMulIntegerToFloat`` multiplies the two with their
    column scales, and the result is multiplied by ``s`` and viewed back as ``[..., N]``.

    The weights are int8 on a CPU with VNNI and uint8 (zero point 128) elsewhere (``int8_weights=None``:
    :func:`exact_int8_weights` decides). Both compute the same integers, exactly. With int8 weights, x86 CPUs
    without VNNI (AVX2, AVX-512F) multiply with ``VPMADDUBSW``, which adds pairs of products into a saturating
    int16; 255 x 127 x 2 overflows it, so the same int8 model gave other vectors there (mean cosine to float32
    0.9962 on an AVX2 EPYC, 0.9974 on the VNNI machine where it was built). ONNX Runtime's uint8 x uint8 kernel
    widens to int16 first: exact on every CPU (``tests/test_onnx_embedder.py`` checks both forms against numpy),
    mean cosine 0.9974 on the AVX2 machine too. There it costs 17% of query-guided's p50 against 7-bit int8
    weights (exact as well, but they kept 3 fewer of 252 HotpotQA answers at rate 0.1).
    Products that read the same activations (a layer's query, key and value projections) share one quantized
    copy. Per-tensor scales (``quantize_dynamic``) cost one fused op less; on 400 HotpotQA sentences in batches
    of 8 this ran 8% slower than them and 1.8x faster than float32.
    """
    import onnx
    from onnx import helper, numpy_helper

    if int8_weights is None:
        int8_weights = exact_int8_weights()
    model = onnx.load(source)
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes: list[Any] = []
    added: list[Any] = []
    quantized: dict[str, tuple[str, str, str]] = {}  # activation -> (its uint8 rows, their scales, lead dims)
    constants = {"inv": np.float32(1.0 / 127.0), "eps": np.float32(1e-12), "one": np.float32(1.0),
                 "zero_point": np.uint8(128), "rows": np.asarray([-1], np.int64),
                 "head": np.asarray([0], np.int64), "last": np.asarray([-1], np.int64)}
    added += [numpy_helper.from_array(np.asarray(v), f"rowq_{k}") for k, v in constants.items()]
    count = 0
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)  # [K, N]
        w_scale = (np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0).astype(np.float32)
        p = f"rowq{count}_"
        count += 1
        w_int = np.clip(np.round(w / w_scale), -127, 127)
        w_q = w_int.astype(np.int8) if int8_weights else (w_int + 128).astype(np.uint8)  # zero point 128, as rows
        added += [numpy_helper.from_array(w_q, p + "w"),
                  numpy_helper.from_array(w_scale, p + "w_scale"),
                  numpy_helper.from_array(np.asarray([w.shape[1]], np.int64), p + "n")]
        a = node.input[0]
        if a not in quantized:  # [..., K] -> [M, K] rows, each with its own scale (QuantizeLinear along axis 0)
            added.append(numpy_helper.from_array(np.asarray([w.shape[0]], np.int64), p + "k"))
            nodes += [
                helper.make_node("Shape", [a], [p + "shape"]),
                helper.make_node("Concat", ["rowq_rows", p + "k"], [p + "2d"], axis=0),
                helper.make_node("Reshape", [a, p + "2d"], [p + "a2"]),
                helper.make_node("Abs", [p + "a2"], [p + "abs"]),
                helper.make_node("ReduceMax", [p + "abs"], [p + "max"], axes=[1], keepdims=1),
                helper.make_node("Mul", [p + "max", "rowq_inv"], [p + "s0"]),
                helper.make_node("Max", [p + "s0", "rowq_eps"], [p + "scale"]),  # [M, 1]
                helper.make_node("Reshape", [p + "scale", "rowq_rows"], [p + "scale1"]),  # [M]
                helper.make_node("Shape", [p + "scale1"], [p + "m"]),
                helper.make_node("Expand", ["rowq_zero_point", p + "m"], [p + "zp"]),
                helper.make_node("QuantizeLinear", [p + "a2", p + "scale1", p + "zp"], [p + "q"], axis=0),
                helper.make_node("Slice", [p + "shape", "rowq_head", "rowq_last"], [p + "lead"]),  # [..., K] -> [...]
            ]
            quantized[a] = (p + "q", p + "scale", p + "lead")
        rows, scale, lead = quantized[a]
        nodes += [
            helper.make_node("MatMulIntegerToFloat",
                             [rows, p + "w", "rowq_one", p + "w_scale", "rowq_zero_point"]
                             + ([] if int8_weights else ["rowq_zero_point"]),
                             [p + "float"], domain="com.microsoft"),
            helper.make_node("Mul", [p + "float", scale], [p + "rescaled"]),  # [M, N]
            helper.make_node("Concat", [lead, p + "n"], [p + "out_shape"], axis=0),
            helper.make_node("Reshape", [p + "rescaled", p + "out_shape"], [node.output[0]]),
        ]
    used = {i for n in nodes for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, target)
    return count


def cpu_session(path: str, num_threads: int | None = None, spin: bool = False) -> Any:
    """An ONNX Runtime CPU session of the model at ``path``: every graph optimisation, ``num_threads`` intra-op
    threads (default: ONNX Runtime's choice), and idle threads that sleep unless ``spin`` (so they do not take the
    CPU from a server's other threads)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise missing_dependency("onnxruntime", "onnx") from exc
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _rows_file() -> str:
    return "int8-rows-s8.onnx" if exact_int8_weights() else "int8-rows-u8.onnx"


def export_onnx(model_name_or_path: str, quantize: bool = True, folder: str | None = None) -> str:
    """The path of ``model_name_or_path`` as an ONNX file of (input_ids, attention_mask) -> unit embeddings,
    exported (and int8-quantized) on the first call, reused after."""
    path, folder, target, needed = begin_export(model_name_or_path, _rows_file() if quantize else "fp32.onnx", folder)
    if not needed:
        return target
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tokenizer(["a sample sentence", "two"], padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        fp32 = os.path.join(tmp, "model.onnx")
        export_graph(Pooled(model).eval(), (sample["input_ids"], sample["attention_mask"]), fp32, "embedding",
                      {0: "batch"})
        out = fp32
        if quantize:
            out = os.path.join(tmp, "model.int8.onnx")
            quantize_rows(fp32, out)
        os.replace(out, target)  # atomic: a concurrent process sees the whole file or none
    if quantize:
        _remove_superseded(target[: -len(_rows_file())])
    return target


#: Earlier int8 schemes of :func:`export_onnx`: per-tensor ``quantize_dynamic``, then int8 weights on every CPU
#: (inexact on x86 without VNNI). An export of the current scheme replaces the same weights' file of these.
_SUPERSEDED = ("int8.onnx", "int8-rows.onnx")


def _remove_superseded(prefix: str) -> None:
    for kind in _SUPERSEDED:
        try:
            os.remove(prefix + kind)
            logger.info("Removed a superseded ONNX export: %s", prefix + kind)
        except OSError:
            pass


class OnnxSentenceEmbedder(SentenceEmbedder):
    """:class:`~contextzip.models.SentenceEmbedder` on ONNX Runtime (CPU), int8 by default.

    Args:
        model_name_or_path: a registered name ("minilm"), hub id or local path of a BERT-like encoder.
        quantize: int8 dynamic quantization of the weights (``False``: float32).
        batch_size: texts per forward pass (``None``: 8, measured best on CPU, as for torch). A text's vector
            does not depend on its batch-mates (activations are scaled per token: :func:`quantize_rows`), so
            outputs are the same with and without a cache.
        max_length: wordpieces kept per text.
        num_threads: ONNX Runtime's intra-op threads (``None``: its default, one per core).
        spin: let idle intra-op threads spin (ONNX Runtime's default); off by default, as spinning threads took
            the CPU from the proxy's other threads on a shared 2-core machine.
        cache: as for :class:`~contextzip.models.SentenceEmbedder`.
    """

    def __init__(self, model_name_or_path: str = "minilm", *, quantize: bool = True, batch_size: int | None = None,
                 max_length: int = 256, num_threads: int | None = None, spin: bool = False,
                 cache: Any = None) -> None:
        kind = ROWS_KIND if quantize else "fp32"
        cached = output_cache(cache, lambda: f"embed-onnx-{kind}|{model_name_or_path}|{max_length}",
                              model_name_or_path)
        if batch_size is None:
            batch_size = 8
        super().__init__(model_name_or_path, ScoringEngine(device="cpu", dtype="float32", batch_size=batch_size),
                         max_length, cache=False)
        self.quantize = bool(quantize)
        self.num_threads = num_threads
        self.spin = bool(spin)
        self.cache = cached

    def load(self) -> tuple[Any, Any]:
        def build() -> tuple[Any, Any]:
            try:
                import onnxruntime  # noqa: F401
                import transformers
            except ImportError as exc:
                raise missing_dependency("onnxruntime", "onnx") from exc
            session = cpu_session(export_onnx(self.model_name_or_path, self.quantize), self.num_threads, self.spin)
            tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model_path(self.model_name_or_path))
            return tokenizer, session

        key = (resolve_model_path(self.model_name_or_path), "onnx", self.quantize, self.num_threads, self.spin)
        return cached_model(key, build)

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.get_outputs()[0].shape[-1])

    def _embed(self, texts: Sequence[str], show_progress_bar: bool | None) -> np.ndarray:
        tokenizer, session = self._tokenizer, self._model
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=self.max_length)["input_ids"]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        def collate(batch: list[int]) -> dict[str, Any]:
            return pad_batch([ids[i] for i in batch], pad_id)

        def forward(tensors: dict[str, Any]) -> Any:
            feed = {"input_ids": tensors["input_ids"].numpy().astype(np.int64, copy=False),
                    "attention_mask": tensors["attention_mask"].numpy().astype(np.int64, copy=False)}
            return session.run(None, feed)[0]

        rows = self.engine.run(list(range(len(ids))), lengths=[len(x) for x in ids], collate=collate,
                               forward=forward, desc="Embedding (ONNX)", show_progress_bar=show_progress_bar)
        return np.stack(rows).astype(np.float32, copy=False)


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package can be imported (``pip install 'contextzip-rag[onnx]'``)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else a ``ValueError`` that names them."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, but got {backend!r}")
    return backend


def sentence_embedder(model_name_or_path: str, engine: ScoringEngine, backend: str = "auto",
                      dtype: str | None = "auto") -> SentenceEmbedder:
    """The sentence embedder for ``backend``: "torch" (:class:`~contextzip.models.SentenceEmbedder` on
    ``engine``), "onnx" (:class:`OnnxSentenceEmbedder`, int8 per token row, CPU) or "auto": ONNX on a CPU engine
    when ``dtype`` is "auto" and ONNX Runtime is installed (measured 0.82x torch's p50 on HotpotQA with answer
    retention within 0.4 point: docs/benchmarks.md, "Performance"), torch otherwise."""
    check_backend(backend)
    if backend == "auto":
        backend = "onnx" if engine.device == "cpu" and dtype in (None, "auto") and onnx_available() else "torch"
    if backend == "onnx":
        return OnnxSentenceEmbedder(model_name_or_path, batch_size=engine.batch_size)
    return SentenceEmbedder(model_name_or_path, engine=engine)


def export_token_classifier(model_name_or_path: str, folder: str | None = None) -> str:
    """The path of a Hugging Face ``AutoModelForTokenClassification`` as a float32 ONNX file of (input_ids,
    attention_mask) -> logits, exported on the first call into a folder of its own (a model over 2 GB keeps its
    weights in external data files there), reused after."""
    # its own folder: large weights go to external data files
    path, folder, target, needed = begin_export(model_name_or_path, "token-classification.fp32", folder, "model.onnx")
    if not needed:
        return target
    import shutil

    import torch
    import transformers

    with quiet_loading():
        model = transformers.AutoModelForTokenClassification.from_pretrained(path, attn_implementation="eager").eval()
    sample = torch.tensor([[5, 6, 7, 8], [5, 6, 7, 8]]), torch.ones((2, 4), dtype=torch.long)
    tmp = tempfile.mkdtemp(dir=folder)
    try:
        export_graph(model, sample, os.path.join(tmp, "model.onnx"), "logits", {0: "batch", 1: "length"})
        os.rename(tmp, os.path.dirname(target))  # atomic: a concurrent process sees the whole export or none
    except OSError:
        if not os.path.exists(target):  # not another process's export that landed first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class OnnxTokenClassifier:
    """A token classifier run by ONNX Runtime in float32 (CPU), called like the transformers model it was
    exported from: ``model(input_ids=..., attention_mask=...).logits`` as a torch tensor.

    ONNX Runtime's fused CPU kernels ran the same float32 classifiers 1.8-2.0x faster than torch on this
    project's 2-core CPU (mBERT base and XLM-R large, 4 x 512 tokens: 1.82 s against 1.02 s, 6.6 s against 3.3 s),
    with logits within 2e-6 of torch's.
    """

    def __init__(self, model_name_or_path: str, num_threads: int | None = None) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise missing_dependency("onnxruntime", "onnx") from exc
        self.session = cpu_session(export_token_classifier(model_name_or_path), num_threads)

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import torch
        from transformers.modeling_outputs import TokenClassifierOutput

        feed = {"input_ids": np.asarray(input_ids, dtype=np.int64),
                "attention_mask": np.asarray(attention_mask, dtype=np.int64)}
        return TokenClassifierOutput(logits=torch.from_numpy(self.session.run(None, feed)[0]))
