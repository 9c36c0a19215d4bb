"""GistProjector: save/load round trip (int8 matrices with per-row scales on disk), a stable weights hash, nested gists, argument checks."""

from __future__ import annotations

import pytest
import torch

from contextzip.gist.projector import CONFIG_NAME, WEIGHTS_NAME, GistProjector, ProjectorConfig
from contextzip.weights import pack_state, unpack_state


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    states = torch.randn(2, 7, 384)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3], dtype=torch.bool)
    return states, mask


@torch.no_grad()
def test_save_load_round_trip(make_projector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    projector = make_projector()
    states, mask = _inputs()
    projector.save_pretrained(str(tmp_path), note="test")
    assert (tmp_path / CONFIG_NAME).exists() and (tmp_path / WEIGHTS_NAME).exists()
    loaded = GistProjector.from_pretrained(str(tmp_path))
    assert loaded.config == projector.config
    assert not loaded.training
    for k in (1, 4, 16):
        torch.testing.assert_close(loaded(states, mask, k), projector(states, mask, k), atol=2e-2, rtol=1e-2)
    again = GistProjector.from_pretrained(str(tmp_path))
    assert loaded.weights_hash() == again.weights_hash(), "the hash of the saved weights is stable across loads"
    rounded = make_projector()
    rounded.load_state_dict(unpack_state(pack_state(rounded.state_dict())))
    assert rounded.weights_hash() == loaded.weights_hash(), "int8-rounded weights hash like the loaded ones"
    assert projector.weights_hash() != loaded.weights_hash(), "fp32 weights differ from their int8 copy"
    assert (tmp_path / WEIGHTS_NAME).stat().st_size < 4_000_000, "the shipped projector stays a few MB"
    projector.save_pretrained(str(tmp_path / "fp16"), dtype=torch.float16)
    half = GistProjector.from_pretrained(str(tmp_path / "fp16"))
    torch.testing.assert_close(half(states, mask, 4), projector(states, mask, 4), atol=1e-2, rtol=1e-2)


@torch.no_grad()
def test_gists_are_nested_and_padding_is_masked(make_projector) -> None:  # type: ignore[no-untyped-def]
    projector = make_projector()
    states, mask = _inputs()
    full = projector(states, mask, 16)
    assert full.shape == (2, 16, 576)
    torch.testing.assert_close(projector(states, mask, 4), full[:, :4], atol=1e-5, rtol=1e-5)
    noisy = states.clone()
    noisy[1, 4:] = 100.0  # padded positions must not matter
    torch.testing.assert_close(projector(noisy, mask, 4)[1], full[1, :4], atol=1e-5, rtol=1e-5)
    norms = full.norm(dim=-1)
    torch.testing.assert_close(norms, torch.full_like(norms, ProjectorConfig().embed_norm), atol=1e-4, rtol=1e-4)


def test_bad_k_and_missing_folder(make_projector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    projector = make_projector()
    states, mask = _inputs()
    with pytest.raises(ValueError, match="k must be in"):
        projector(states, mask, 0)
    with pytest.raises(ValueError, match="k must be in"):
        projector(states, mask, 17)
    with pytest.raises(FileNotFoundError, match="no gist projector"):
        GistProjector.from_pretrained(str(tmp_path))
