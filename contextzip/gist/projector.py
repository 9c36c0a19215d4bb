"""The gist projector: k learned queries that read a segment's encoder token states and land in a decoder's
embedding space (a one-layer Perceiver resampler; with k = 1 it is close to xRAG's MLP over the pooled vector).

One projector serves every k up to ``max_gists``: gists are nested (the first k of the k_max queries), and training
draws k per batch, so ``k=1`` is the coarsest summary and each further query adds detail.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

CONFIG_NAME = "contextzip_gist.json"
WEIGHTS_NAME = "projector.safetensors"


@dataclass(frozen=True)
class ProjectorConfig:
    """Shapes of a :class:`GistProjector` and the models it connects (recorded with the weights)."""

    encoder_dim: int = 384
    decoder_dim: int = 576
    max_gists: int = 16
    heads: int = 6
    hidden: int = 1536
    embed_norm: float = 3.2  # mean L2 norm of the decoder's token embeddings: gists start at the same scale
    encoder: str = "minilm"
    decoder: str = "smollm2-135m"


class GistProjector(nn.Module):
    """Encoder token states (B, T, encoder_dim) + mask -> k gist vectors (B, k, decoder_dim) per segment."""

    def __init__(self, config: ProjectorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ProjectorConfig()
        self.queries = nn.Parameter(torch.randn(c.max_gists, c.encoder_dim) * 0.02)
        self.pooled = nn.Linear(c.encoder_dim, c.encoder_dim)
        self.norm_q = nn.LayerNorm(c.encoder_dim)
        self.norm_kv = nn.LayerNorm(c.encoder_dim)
        self.attention = nn.MultiheadAttention(c.encoder_dim, c.heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(c.encoder_dim)
        self.ff = nn.Sequential(nn.Linear(c.encoder_dim, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.encoder_dim))
        self.out = nn.Sequential(nn.LayerNorm(c.encoder_dim), nn.Linear(c.encoder_dim, 2 * c.decoder_dim), nn.GELU(),
                                 nn.Linear(2 * c.decoder_dim, c.decoder_dim))
        self.scale = nn.Parameter(torch.tensor(float(c.embed_norm)))
        self.card: dict[str, Any] = {}  # what save_pretrained wrote beside the config (data, seed, validation)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
        if not 1 <= k <= self.config.max_gists:
            raise ValueError(f"k must be in [1, {self.config.max_gists}], but got {k}")
        mask = mask.bool()
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        q = self.queries[:k].unsqueeze(0) + self.pooled(pooled).unsqueeze(1)
        kv = self.norm_kv(states)
        attended, _ = self.attention(self.norm_q(q), kv, kv, key_padding_mask=~mask, need_weights=False)
        h = q + attended
        h = h + self.ff(self.norm_ff(h))
        out = self.out(h)
        return nn.functional.normalize(out, dim=-1) * self.scale  # the decoder's token-embedding scale

    def weights_hash(self) -> str:
        """SHA-256 of the config and every parameter's bytes: part of each cached gist's key."""
        digest = hashlib.sha256(json.dumps(asdict(self.config), sort_keys=True).encode())
        for name, tensor in sorted(self.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def save_pretrained(self, folder: str, dtype: torch.dtype | None = None, **card: Any) -> None:
        """``folder``/contextzip_gist.json + projector.safetensors: by default matrices as int8 with a float16
        scale per row (:func:`contextzip.weights.pack_state`, ~3 MB), or every tensor in ``dtype``."""
        from safetensors.torch import save_file

        from contextzip.weights import pack_state

        os.makedirs(folder, exist_ok=True)
        state = {name: t.detach().cpu() for name, t in self.state_dict().items()}
        tensors = pack_state(state) if dtype is None else {k: v.to(dtype).contiguous() for k, v in state.items()}
        save_file(tensors, os.path.join(folder, WEIGHTS_NAME))
        with open(os.path.join(folder, CONFIG_NAME), "w", encoding="utf-8") as fh:
            json.dump({"config": asdict(self.config), **card}, fh, indent=2, sort_keys=True)

    @classmethod
    def from_pretrained(cls, folder: str) -> GistProjector:
        from safetensors.torch import load_file

        from contextzip.weights import unpack_state

        config_path = os.path.join(folder, CONFIG_NAME)
        if not os.path.exists(config_path):
            raise FileNotFoundError(f"no gist projector in {folder!r} (expected {CONFIG_NAME})")
        with open(config_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        model = cls(ProjectorConfig(**meta["config"]))
        model.card = {k: v for k, v in meta.items() if k != "config"}  # how it was trained (training/train_gist.py)
        model.load_state_dict(unpack_state(load_file(os.path.join(folder, WEIGHTS_NAME))))
        return model.eval()
