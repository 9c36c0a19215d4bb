"""The relevance model (``contextzip-relevance``) on ONNX Runtime: the same float32 graph, faster on a CPU.

The cross-encoder reranker is the slowest stage of ``query-guided`` and ``coarse-to-fine`` with
``rerank="contextzip-relevance"``. On first use the model (the packaged MiniLM with its trained top layers and
three heads: keep, passage, answer span) is exported with ``torch.onnx.export`` into the contextzip cache
(``$CONTEXTZIP_CACHE/onnx``), keyed by the fingerprint of the trained weights, and run by ONNX Runtime in float32.
ONNX Runtime's BERT fusions are applied to the graph (one attention kernel per layer). Its probabilities match
torch's within 1e-4 (float32, another reduction order), so the scores, and the kept text, are those of the torch
model, and it runs faster on a CPU (docs/sections/relevance.md).

:class:`~contextzip.compressors.cross_encoder.CrossEncoderScorer` uses it with ``backend="auto"`` on a CPU where
the engine runs float32 and ONNX Runtime is installed (``pip install 'contextzip-rag[onnx]'``); Hugging Face
cross-encoders keep running on torch.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np

from contextzip.errors import missing_dependency
from contextzip.models import quiet_loading
from contextzip.onnx_embedder import cpu_session
from contextzip.onnx_export import begin_export

logger = logging.getLogger(__name__)

__all__ = ["OnnxRelevanceModel", "export_relevance_model"]

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_relevance_model(model_name_or_path: str, folder: str | None = None) -> str:
    """The path of a contextzip relevance model as a float32 ONNX file of (input_ids, attention_mask,
    token_type_ids) -> (keep, passage, answer) logits, exported on the first call and reused after."""
    from contextzip.compressors.cross_encoder import load_relevance_model

    path, folder, target, needed = begin_export(model_name_or_path, "relevance.fp32-fused.onnx", folder)
    if not needed:
        return target
    import torch

    # A throwaway instance: a module traced by torch.onnx.export is not reused for inference here.
    with quiet_loading():
        tokenizer, model, _ = load_relevance_model(path)
    model = model.float().eval()
    sample = tokenizer(["a question", "two"], ["a passage here", "and one more"], padding=True, return_tensors="pt")
    dynamic: dict[str, dict[int, str]] = {name: {0: "batch", 1: "length"} for name in (*_INPUTS, "keep", "answer")}
    dynamic["passage"] = {0: "batch"}
    encoder = model.encoder.config
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = os.path.join(tmp, "model.onnx")
        with quiet_loading(), torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(model, tuple(sample[name] for name in _INPUTS), out, input_names=list(_INPUTS),
                              output_names=["keep", "passage", "answer"], dynamic_axes=dynamic, opset_version=17,
                              dynamo=False)
        out = _fuse(out, os.path.join(tmp, "fused.onnx"), encoder.num_attention_heads, encoder.hidden_size)
        os.replace(out, target)  # atomic: a concurrent process sees the whole file or none
    return target


def _fuse(source: str, target: str, num_heads: int, hidden_size: int) -> str:
    """``source`` with ONNX Runtime's BERT fusions (one Attention, SkipLayerNormalization and BiasGelu kernel per
    layer: 1.17x on this CPU, logits within 3e-5) saved at ``target``; ``source`` itself if the optimizer fails."""
    try:
        from onnxruntime.transformers import optimizer

        with quiet_loading():
            optimizer.optimize_model(source, model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                     opt_level=1).save_model_to_file(target)
        return target
    except Exception as exc:  # an optimizer that does not know the graph: the plain graph is as exact
        logger.info("ONNX Runtime's BERT fusions did not apply (%s); keeping the plain graph", exc)
        return source


class OnnxRelevanceModel:
    """A contextzip relevance model run by ONNX Runtime (float32, CPU), called like the torch model:
    ``model(input_ids=..., attention_mask=..., token_type_ids=...)`` -> (keep, passage, answer) torch tensors.

    Args:
        model_name_or_path: a contextzip relevance model (registered name or folder).
        config: its ``contextzip_relevance.json`` (kept as ``contextzip_config``, as on the torch model).
        num_threads: ONNX Runtime's intra-op threads (default: its own choice, the physical cores).
    """

    def __init__(self, model_name_or_path: str, config: dict[str, Any], num_threads: int | None = None) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise missing_dependency("onnxruntime", "onnx") from exc
        self.session = cpu_session(export_relevance_model(model_name_or_path), num_threads)
        self.contextzip_config = config

    def __call__(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, Any, Any]:
        import torch

        if token_type_ids is None:
            token_type_ids = np.zeros_like(np.asarray(input_ids))
        feed = {name: np.asarray(value, dtype=np.int64)
                for name, value in zip(_INPUTS, (input_ids, attention_mask, token_type_ids), strict=True)}
        keep, passage, answer = self.session.run(None, feed)
        return torch.from_numpy(keep), torch.from_numpy(passage), torch.from_numpy(answer)
