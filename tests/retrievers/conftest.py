"""A tiny deterministic bag-of-words embedder, so index, filter and adapter tests run without a model."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from contextzip.types import Document


class HashingEmbedder:
    """Unit-length hashed bag of words (64 dimensions): texts sharing words are close."""

    model_name_or_path = "hashing-test"
    dimension = 64

    def encode(self, texts, show_progress_bar=None):
        out = np.zeros((len(texts), self.dimension), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = zlib.crc32(word.encode())
                out[i, h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out


@pytest.fixture
def embedder():
    return HashingEmbedder()


@pytest.fixture
def corpus():
    return [
        Document("Paris is the capital of France.", "paris", {"lang": "en", "year": 2020}),
        Document("Bananas are yellow fruit rich in potassium.", "banana", {"lang": "en", "year": 2021}),
        Document("Python is a programming language created by Guido van Rossum.", "python", {"lang": "en", "year": 2022}),
        Document("Berlin ist die Hauptstadt von Deutschland.", "berlin", {"lang": "de", "year": 2020}),
        Document("The Eiffel Tower in Paris is 330 metres tall.", "eiffel", {"lang": "en", "year": 2023}),
        Document("Madrid is the capital of Spain.", "madrid", {"lang": "en", "year": 2021}),
    ]
