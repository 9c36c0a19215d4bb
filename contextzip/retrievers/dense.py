"""A dense retriever on FAISS over the same MiniLM embeddings the compressors use."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from contextzip.compressors.base import DocumentsInput
from contextzip.models import SentenceEmbedder
from contextzip.retrievers.base import (
    BaseRetriever,
    MetadataFilter,
    SearchHit,
    check_filter,
    check_k,
    ids_of,
    matches,
    read_config,
    read_documents,
    with_ids,
    write_config,
    write_documents,
)
from contextzip.retrievers.indexes import BinaryIndex, FlatIndex, VectorIndex, make_index
from contextzip.types import Document

logger = logging.getLogger(__name__)

__all__ = ["DenseRetriever", "SearchHit"]


class DenseRetriever(BaseRetriever):
    """Embedding search over a FAISS index, with documents kept by id.

    Args:
        model_name_or_path: the embedding model ("minilm" by default, offline).
        embedder: share an existing :class:`SentenceEmbedder` (and its loaded model) instead.
        index: ``"flat"`` (exact, the default), ``"hnsw"``, ``"ivfpq"``, ``"int8"``, ``"binary"`` or a
            :class:`~contextzip.retrievers.indexes.VectorIndex` instance (to set its parameters).
        index_options: constructor arguments for an index given by name, e.g. ``{"nprobe": 32}``.

    Documents are added, updated and deleted by id; searches take a metadata ``filter``
    (``{"source": "wiki"}``, ``{"year": [2023, 2024]}`` or a predicate on :class:`Document`).

    Example:
        >>> retriever = DenseRetriever()
        >>> retriever.add(["Paris is the capital of France.", "Bananas are yellow."])
        ['0', '1']
        >>> retriever.search("French capital", k=1)[0].document.text
        'Paris is the capital of France.'
    """

    def __init__(self, model_name_or_path: str = "minilm", *, embedder: SentenceEmbedder | None = None,
                 index: str | VectorIndex = "flat", index_options: Mapping[str, Any] | None = None) -> None:
        self.embedder = embedder or SentenceEmbedder(model_name_or_path)
        self.index = make_index(index, **dict(index_options or {}))
        self._docs: dict[int, Document] = {}
        self._labels: dict[str, int] = {}
        self._next_label = 0

    def __len__(self) -> int:
        return len(self._docs)

    def __repr__(self) -> str:
        return f"DenseRetriever(model={self.embedder.model_name_or_path!r}, index={self.index!r}, documents={len(self)})"

    @property
    def documents(self) -> list[Document]:
        """The indexed documents, in the order they were added."""
        return list(self._docs.values())

    def get(self, doc_id: str) -> Document | None:
        label = self._labels.get(str(doc_id))
        return None if label is None else self._docs[label]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self._labels

    # --- writing --------------------------------------------------------------------------------------------

    def add(self, documents: DocumentsInput, *, embeddings: Any = None,
            show_progress_bar: bool | None = None) -> list[str]:
        """Embed and index documents (str, Document or {"text", "id", "metadata"}); returns their ids.

        Documents without an id get a running number. An id already in the index is an error (see
        :meth:`update`). ``embeddings``: precomputed unit-length vectors, one row per document.
        """
        docs = with_ids(documents, self._labels.__contains__, len(self._docs))
        clash = [d.id for d in docs if d.id in self._labels]
        if clash:
            raise ValueError(f"document ids already indexed: {clash[:5]!r}; use update() to replace them")
        self._insert(docs, embeddings, show_progress_bar)
        return [d.id for d in docs]  # type: ignore[misc]

    def update(self, documents: DocumentsInput, *, embeddings: Any = None) -> list[str]:
        """Replace indexed documents (text, metadata and vector), matched by id; every id must be indexed."""
        docs = with_ids(documents, lambda _: False, 0)
        missing = [d.id for d in docs if d.id not in self._labels]
        if missing:
            raise ValueError(f"document ids not in the index: {missing[:5]!r}; use add() for new documents")
        self.delete([d.id for d in docs])  # type: ignore[misc]
        self._insert(docs, embeddings, None)
        return [d.id for d in docs]  # type: ignore[misc]

    def delete(self, ids: str | Iterable[str]) -> int:
        """Remove the documents with these ids; returns how many were indexed (unknown ids are ignored)."""
        labels = [self._labels.pop(i) for i in ids_of(ids) if i in self._labels]
        for label in labels:
            del self._docs[label]
        self.index.remove(np.asarray(labels, np.int64))
        return len(labels)

    def _insert(self, docs: list[Document], embeddings: Any, show_progress_bar: bool | None) -> None:
        if not docs:
            return
        if embeddings is None:
            vectors = self.embedder.encode([d.text for d in docs], show_progress_bar=show_progress_bar)
        else:
            vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
            if vectors.shape[0] != len(docs):
                raise ValueError(f"got {vectors.shape[0]} embeddings for {len(docs)} documents")
        labels = np.arange(self._next_label, self._next_label + len(docs), dtype=np.int64)
        self.index.add(vectors, labels)
        self._next_label += len(docs)
        for label, d in zip(labels.tolist(), docs, strict=True):
            self._docs[label] = d
            self._labels[d.id] = label  # type: ignore[index]

    # --- searching ------------------------------------------------------------------------------------------

    def _search_batch(self, queries: list[str], k: int, filter: MetadataFilter | None) -> list[list[SearchHit]]:
        return self.search_vectors(self.embedder.encode(queries), k, filter=filter)

    def search_vectors(self, vectors: Any, k: int = 5, *, filter: MetadataFilter | None = None) -> list[list[SearchHit]]:
        """Search with query embeddings (n, dimension) instead of texts; one list of hits per row."""
        check_k(k)
        filter = check_filter(filter)
        q = np.ascontiguousarray(vectors, dtype=np.float32)
        if q.ndim != 2:
            raise ValueError(f"vectors must be a 2-d array (n, dimension), but got shape {q.shape}")
        if not self._docs:
            return [[] for _ in range(len(q))]
        allowed = None
        if filter is not None:
            allowed = np.fromiter((label for label, d in self._docs.items() if matches(d, filter)), np.int64)
            if not len(allowed):
                return [[] for _ in range(len(q))]
        scores, labels = self.index.search(q, min(k, len(self._docs)), allowed)
        docs = self._docs
        return [[SearchHit(docs[label], float(s)) for s, label in zip(srow.tolist(), lrow.tolist(), strict=True)
                 if label >= 0 and label in docs] for srow, lrow in zip(scores, labels, strict=True)]

    # --- size, saving, loading ------------------------------------------------------------------------------

    def index_bytes(self) -> int:
        """Serialized size of the vector index (not of the documents' text), in bytes."""
        return self.index.nbytes()

    def save(self, folder: str) -> None:
        """Write the index, the documents with their ids and metadata (JSONL) and the settings to ``folder``."""
        os.makedirs(folder, exist_ok=True)
        self.index.save(os.path.join(folder, "index"))
        write_documents(os.path.join(folder, "documents.jsonl"), self._docs.items())
        write_config(folder, {"retriever": "dense", "model_name_or_path": self.embedder.model_name_or_path,
                              "index": self.index.name, "count": len(self._docs), "next_label": self._next_label})

    @classmethod
    def load(cls, folder: str, *, embedder: SentenceEmbedder | None = None) -> DenseRetriever:
        """Load what :meth:`save` wrote (also the single-file flat layout of contextzip before 0.2)."""
        config = read_config(folder)
        retriever = cls(config["model_name_or_path"], embedder=embedder)
        rows = read_documents(os.path.join(folder, "documents.jsonl"))
        if "index" in config:
            retriever.index = VectorIndex.load(os.path.join(folder, "index"))
        else:
            retriever.index = _legacy_flat(os.path.join(folder, "index.faiss"))
        retriever._docs = dict(rows)
        retriever._labels = {d.id: label for label, d in rows}  # type: ignore[misc]
        retriever._next_label = int(config.get("next_label", len(rows)))
        if len(retriever.index) != len(rows):
            raise ValueError(f"{folder}: index holds {len(retriever.index)} vectors but {len(rows)} documents")
        return retriever


def _legacy_flat(path: str) -> FlatIndex:
    import faiss

    old = faiss.read_index(path)
    index = FlatIndex()
    if old.ntotal:
        index.add(old.reconstruct_n(0, old.ntotal), np.arange(old.ntotal, dtype=np.int64))
    return index


def index_summary(retriever: DenseRetriever) -> dict[str, Any]:
    """Index type, vectors and bytes (with the re-scoring vectors of a binary index) for reports."""
    out: dict[str, Any] = {"index": retriever.index.name, "vectors": len(retriever.index),
                           "index_bytes": retriever.index_bytes()}
    if isinstance(retriever.index, BinaryIndex):
        out["rescore_bytes"] = retriever.index.rescore_nbytes()
    return out
