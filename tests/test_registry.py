from __future__ import annotations

import time

import pytest

from contextzip.errors import ModelNotAvailableError
from contextzip.model_registry import model_available, resolve_model_path
from contextzip.registry import compressor_names, get_compressor_class


def test_minilm_resolves_offline():
    path = resolve_model_path("minilm")
    assert path.endswith("model")
    assert model_available("minilm")


def test_missing_hub_model_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download"):
        resolve_model_path("no-such-org/no-such-model-contextzip")
    assert time.perf_counter() - start < 5


def test_missing_local_path_fails():
    with pytest.raises(ModelNotAvailableError):
        resolve_model_path("./does/not/exist")


def test_bad_names():
    with pytest.raises(ValueError):
        resolve_model_path("")
    with pytest.raises(ValueError, match="compressor must be one of"):
        get_compressor_class("nope")


def test_builtin_compressors_are_listed():
    names = compressor_names()
    for name in ("query-guided", "truncate", "bm25-sentences", "random-sentences"):
        assert name in names
    assert get_compressor_class("truncate").name == "truncate"
