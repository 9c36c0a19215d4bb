"""Fixtures of the retriever tests: a deterministic bag-of-words embedder (no model) and a small corpus."""

from __future__ import annotations

import pytest

from contextzip.testing.embedders import HashingEmbedder
from contextzip.types import Document


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
