"""Compressor fixtures: the tiny random causal LM and seq2seq model of tests/test_causal_lm.py, built once."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

_spec = importlib.util.spec_from_file_location("_tiny_lm", pathlib.Path(__file__).parents[1] / "test_causal_lm.py")
_tiny_lm = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_tiny_lm)  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def tiny_lms(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Local folders of a tiny Llama (causal) and a tiny T5 (seq2seq), sharing one byte-level BPE tokenizer."""
    return _tiny_lm.build_tiny_models(tmp_path_factory.mktemp("tiny-lm"))

