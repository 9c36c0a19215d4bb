"""contextzip's distilled token classifier: frozen MiniLM word-piece embeddings, a few dilated convolutions.

Trained by ``training/train_student.py`` (``training/DATA_CARD.md``); loaded through the shared model cache.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from contextzip.segment import codepoints

STUDENT_CONFIG = "contextzip_student.json"

__all__ = ["STUDENT_CONFIG", "build_student", "is_student", "load_student", "token_features"]


def is_student(path: str) -> bool:
    """Whether ``path`` holds a student saved by ``training/train_student.py``."""
    return os.path.exists(os.path.join(path, STUDENT_CONFIG))


def token_features(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Casing and digit features the student needs beside an uncased vocabulary: (n_tokens, 3) float32."""
    cp = codepoints(text)
    if len(starts) == 0 or len(cp) == 0:
        return np.zeros((len(starts), 3), dtype=np.float32)
    first = cp[np.clip(starts, 0, len(cp) - 1)]
    upper = ((first >= 65) & (first <= 90)) | ((first >= 192) & (first <= 222) & (first != 215))
    digit = (first >= 48) & (first <= 57)
    nonalpha = ~(upper | digit | ((first >= 97) & (first <= 122)) | (first >= 223))
    return np.stack([upper, digit, nonalpha], axis=1).astype(np.float32)


def build_student(config: dict[str, Any], embeddings: Any) -> Any:
    """The student: frozen MiniLM word-piece embeddings plus features, a few dilated convolutions, a head."""
    import torch
    from torch import nn

    class ConvBlock(nn.Module):
        def __init__(self, width: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.conv = nn.Conv1d(width, width, kernel, dilation=dilation, padding=dilation * (kernel // 2))
            self.norm = nn.LayerNorm(width)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = self.conv((x * mask).transpose(1, 2)).transpose(1, 2)
            return self.norm(x + nn.functional.gelu(h))

    class StudentTokenClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = int(config["width"])
            self.embeddings = nn.Embedding.from_pretrained(embeddings, freeze=True)
            self.proj = nn.Linear(embeddings.shape[1] + int(config["n_features"]), width)
            self.blocks = nn.ModuleList(
                ConvBlock(width, int(config["kernel"]), int(d)) for d in config["dilations"]
            )
            self.head = nn.Linear(width, 2)

            self.folded: nn.Embedding | None = None

        def fold(self) -> None:
            """For inference: fold the projection into the embedding table (one gather instead of a matmul)."""
            dim = self.embeddings.weight.shape[1]
            with torch.no_grad():
                table = self.embeddings.weight @ self.proj.weight[:, :dim].T + self.proj.bias
            self.folded = nn.Embedding.from_pretrained(table, freeze=True)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    features: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).to(self.proj.weight.dtype)
            features = features.to(self.proj.weight.dtype)
            if self.folded is not None:
                dim = self.embeddings.weight.shape[1]
                x = self.folded(input_ids) + features @ self.proj.weight[:, dim:].T
            else:
                x = self.proj(torch.cat([self.embeddings(input_ids), features], dim=-1))
            x = nn.functional.gelu(x)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(x)

    return StudentTokenClassifier()


def load_student(path: str) -> tuple[Any, Any, dict[str, Any]]:
    """(tokenizer, model, config) of a student saved by ``training/train_student.py``."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from contextzip.model_registry import resolve_model_path

    with open(os.path.join(path, STUDENT_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    base = resolve_model_path(config["base_model"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    with safe_open(os.path.join(base, "model.safetensors"), "pt") as f:
        embeddings = f.get_tensor("embeddings.word_embeddings.weight").float()
    model = build_student(config, embeddings)
    state = {k: v.float() for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if not m.startswith("embeddings.")]:
        raise ValueError(f"student weights at {path!r} do not match its config: {missing}, {unexpected}")
    model.fold()
    return tokenizer, model.to(torch.float32), config
