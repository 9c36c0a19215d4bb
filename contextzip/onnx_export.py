"""ONNX exports of contextzip's models: where they live (``$CONTEXTZIP_CACHE/onnx``, named by the weights'
fingerprint), what every exporter does first, and the torch export of an (input_ids, attention_mask) graph.
Used by :mod:`contextzip.onnx_embedder` and :mod:`contextzip.onnx_relevance`."""

from __future__ import annotations

import logging
import os
from typing import Any

from contextzip.cache import weights_fingerprint
from contextzip.errors import missing_dependency
from contextzip.model_registry import resolve_model_path
from contextzip.models import quiet_loading

logger = logging.getLogger(__name__)

__all__ = ["begin_export", "export_graph", "export_target", "require_export_dependencies"]


def _onnx_dir() -> str:
    from contextzip.causal_lm import cache_dir

    return os.path.join(cache_dir(), "onnx")


def export_target(model_name_or_path: str, kind: str, folder: str | None) -> tuple[str, str, str]:
    """(the model's local path, the export folder, the export of this ``kind`` in it), named by the weights'
    fingerprint so that new weights get a new export."""
    path = resolve_model_path(model_name_or_path)
    folder = folder or _onnx_dir()
    name = f"{os.path.basename(path.rstrip('/')) or 'model'}-{weights_fingerprint(path)}"
    return path, folder, os.path.join(folder, f"{name}.{kind}")


def begin_export(model_name_or_path: str, kind: str, folder: str | None,
                 file: str | None = None) -> tuple[str, str, str, bool]:
    """:func:`export_target` (``file`` inside it, when given) and whether it must still be written; when it must,
    the export dependencies are checked, the folder made and the export logged (once)."""
    path, folder, target = export_target(model_name_or_path, kind, folder)
    target = os.path.join(target, file) if file else target
    if os.path.exists(target):
        return path, folder, target, False
    require_export_dependencies()
    os.makedirs(folder, exist_ok=True)
    logger.info("Exporting %s to ONNX (once): %s", model_name_or_path, target)
    return path, folder, target, True


def require_export_dependencies() -> None:
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("onnxruntime and onnx", "onnx") from exc


def export_graph(module: Any, sample: tuple[Any, Any], path: str, output: str, output_axes: dict[int, str]) -> None:
    """``module`` of (input_ids, attention_mask) -> ``output`` saved as ONNX at ``path`` (opset 17, batch and
    length dynamic), with transformers' and torch's export chatter silenced."""
    import torch

    dynamic = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
               output: output_axes}
    with quiet_loading(), torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(module, sample, path, input_names=["input_ids", "attention_mask"], output_names=[output],
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
