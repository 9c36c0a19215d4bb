"""A dense retriever on FAISS over the same MiniLM embeddings the compressors use."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import numpy as np

from contextzip.compressors.base import DocumentsInput, as_documents
from contextzip.models import SentenceEmbedder
from contextzip.types import Document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchHit:
    document: Document
    score: float


class DenseRetriever:
    """Exact inner-product search (cosine, since embeddings are normalised) with ``faiss.IndexFlatIP``.

    Args:
        model_name_or_path: the embedding model ("minilm" by default, offline).
        embedder: share an existing :class:`SentenceEmbedder` (and its loaded model) instead.

    Example:
        >>> retriever = DenseRetriever()
        >>> retriever.add(["Paris is the capital of France.", "Bananas are yellow."])
        >>> retriever.search("French capital", k=1)[0].document.text
        'Paris is the capital of France.'
    """

    def __init__(self, model_name_or_path: str = "minilm", *, embedder: SentenceEmbedder | None = None) -> None:
        self.embedder = embedder or SentenceEmbedder(model_name_or_path)
        self.documents: list[Document] = []
        self._index = None

    def __len__(self) -> int:
        return len(self.documents)

    def _ensure_index(self) -> object:
        if self._index is None:
            import faiss

            self._index = faiss.IndexFlatIP(self.embedder.dimension)
        return self._index

    def add(self, documents: DocumentsInput) -> None:
        """Embed and index documents (str, Document or {"text", "id", "metadata"}); ids default to positions."""
        docs = as_documents(documents)
        offset = len(self.documents)
        docs = [d if d.id not in (None, str(i)) else Document(d.text, str(offset + i), d.metadata)
                for i, d in enumerate(docs)]
        if not docs:
            return
        index = self._ensure_index()
        vectors = self.embedder.encode([d.text for d in docs])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))  # type: ignore[attr-defined]
        self.documents.extend(docs)

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The ``k`` documents most similar to ``query``, best first."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, but got {type(query).__name__}")
        if not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive int, but got {k!r}")
        if not self.documents:
            return []
        q = self.embedder.encode([query])
        scores, ids = self._ensure_index().search(q, min(k, len(self.documents)))  # type: ignore[attr-defined]
        return [SearchHit(self.documents[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def search_documents(self, query: str, k: int = 5) -> list[Document]:
        return [hit.document for hit in self.search(query, k)]

    def save(self, folder: str) -> None:
        """Write the FAISS index and the documents (JSONL) to ``folder``."""
        import faiss

        os.makedirs(folder, exist_ok=True)
        faiss.write_index(self._ensure_index(), os.path.join(folder, "index.faiss"))
        with open(os.path.join(folder, "documents.jsonl"), "w", encoding="utf-8") as f:
            for d in self.documents:
                f.write(json.dumps({"id": d.id, "text": d.text, "metadata": dict(d.metadata)}, ensure_ascii=False) + "\n")
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump({"model_name_or_path": self.embedder.model_name_or_path, "count": len(self.documents)}, f)

    @classmethod
    def load(cls, folder: str, *, embedder: SentenceEmbedder | None = None) -> DenseRetriever:
        """Load what :meth:`save` wrote."""
        import faiss

        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        retriever = cls(config["model_name_or_path"], embedder=embedder)
        retriever._index = faiss.read_index(os.path.join(folder, "index.faiss"))
        with open(os.path.join(folder, "documents.jsonl"), encoding="utf-8") as f:
            retriever.documents = [Document(r["text"], r["id"], r.get("metadata") or {})
                                   for r in map(json.loads, f)]
        if retriever._index.ntotal != len(retriever.documents):  # type: ignore[attr-defined]
            raise ValueError(f"{folder}: index holds {retriever._index.ntotal} vectors but "  # type: ignore[attr-defined]
                             f"{len(retriever.documents)} documents")
        return retriever


