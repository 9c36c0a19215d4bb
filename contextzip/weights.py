"""Small trained weights in few bytes: matrices as int8 with one float16 scale per row, the rest float16.

Used for the weights contextzip ships in the package (the relevance model's layers and heads, the gist projector),
which must stay a few MB each.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pack_state", "unpack_state"]

_SCALE = ".int8_scale"  # suffix of the per-row scale that goes with an int8 weight matrix


def pack_state(state: dict[str, Any]) -> dict[str, Any]:
    """Weight matrices as int8 with one float16 scale per row (absmax), everything else float16: the trained
    layers and heads in under 4 MB."""
    import torch

    out = {}
    for k, v in state.items():
        v = v.detach().float()
        if v.ndim == 2:
            scale = v.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0
            out[k] = torch.round(v / scale).to(torch.int8).contiguous()
            out[k + _SCALE] = scale.to(torch.float16).contiguous()
        else:
            out[k] = v.to(torch.float16).contiguous()
    return out


def unpack_state(state: dict[str, Any]) -> dict[str, Any]:
    """The float32 state of :func:`pack_state` (float16-only files, as older ones, load as they are)."""
    return {k: (v.float() * state[k + _SCALE].float()) if k + _SCALE in state else v.float()
            for k, v in state.items() if not k.endswith(_SCALE)}
