"""A tiny deterministic embedder for tests: no model, no download, the same vectors in every process."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["HashingEmbedder"]


class HashingEmbedder:
    """Unit-length hashed bag of words (64 dimensions; crc32, so the same in every process): texts sharing words
    are close. A :class:`~contextzip.scorers.TextEmbedder`; ``calls`` records the texts of every ``encode``."""

    model_name_or_path = "hashing-test"
    dimension = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str], show_progress_bar: bool | None = None) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = zlib.crc32(word.encode())
                out[i, h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out
