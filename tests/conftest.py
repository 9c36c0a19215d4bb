"""Shared fixtures: offline hub, the shared evaluation data (skipped when absent), one token counter."""

from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = pathlib.Path(os.environ.get("CONTEXTZIP_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"evaluation data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(scope="session")
def counter():
    from contextzip.tokens import get_token_counter

    return get_token_counter("o200k_base")


@pytest.fixture(scope="session")
def query_guided():
    """One loaded QueryGuidedCompressor per session (MiniLM loads once)."""
    from contextzip.compressors.query_guided import QueryGuidedCompressor

    compressor = QueryGuidedCompressor()
    compressor.warm_up()
    return compressor
