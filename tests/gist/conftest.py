"""Gist fixtures: the real SmolLM2-135M decoder and MiniLM encoder (both packaged, offline), loaded once, in float32
on the CPU; a seeded random projector (the trained one may not exist yet)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def gist_engine():  # type: ignore[no-untyped-def]
    from contextzip.engine import ScoringEngine

    return ScoringEngine(device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def decoder(gist_engine):  # type: ignore[no-untyped-def]
    """(tokenizer, model) of smollm2-135m."""
    from contextzip.causal_lm import load_causal_lm

    return load_causal_lm("smollm2-135m", gist_engine)


@pytest.fixture(scope="session")
def gist_encoder(gist_engine):  # type: ignore[no-untyped-def]
    from contextzip.gist.encoder import GistEncoder

    encoder = GistEncoder("minilm", gist_engine)
    encoder.warm_up()
    return encoder


def random_projector(seed: int = 0):  # type: ignore[no-untyped-def]
    import torch

    from contextzip.gist.projector import GistProjector

    torch.manual_seed(seed)
    return GistProjector().eval()


@pytest.fixture
def make_projector():  # type: ignore[no-untyped-def]
    """``make_projector(seed=0)``: a new seeded random projector."""
    return random_projector


@pytest.fixture
def projector():  # type: ignore[no-untyped-def]
    return random_projector()


@pytest.fixture
def gist_compressor(projector, gist_encoder):  # type: ignore[no-untyped-def]
    """A compressor with a random projector and its own in-memory cache."""
    from contextzip.gist.compressor import GistCompressor

    return GistCompressor(projector=projector, encoder=gist_encoder)
