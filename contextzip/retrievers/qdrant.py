"""A dense retriever on a Qdrant collection, through the official ``qdrant-client``.

The same code runs in-process (``location=":memory:"`` or ``path="folder"``, Qdrant's local mode, no server)
and against a Qdrant server or cluster (``url="http://qdrant:6333"``, ``api_key=...``). Install with
``pip install 'contextzip-rag[qdrant]'``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from contextzip.compressors.base import DocumentsInput
from contextzip.errors import missing_dependency
from contextzip.models import SentenceEmbedder
from contextzip.retrievers.base import BaseRetriever, MetadataFilter, SearchHit, ids_of, with_ids
from contextzip.types import Document

logger = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("6f1c2b1e-3c1a-4b7e-9a57-2d0c7a4f5e10")


def _models() -> Any:
    try:
        from qdrant_client import models
    except ImportError as exc:
        raise missing_dependency("qdrant-client", "qdrant") from exc
    return models


def point_id(doc_id: str) -> str:
    """The Qdrant point id of a document id (a UUID derived from it; Qdrant accepts only UUIDs and integers)."""
    return str(uuid.uuid5(_NAMESPACE, doc_id))


class QdrantRetriever(BaseRetriever):
    """Embed with contextzip's embedder, store and search in a Qdrant collection (cosine distance).

    Args:
        collection_name: created on the first :meth:`add` if it does not exist.
        client: an existing ``qdrant_client.QdrantClient``; otherwise one is made from ``client_options``
            (``location=":memory:"`` when none are given; ``path=``, ``url=``, ``api_key=`` as in qdrant-client).
        embedder / model_name_or_path: the embedding model ("minilm" by default).
        batch_size: points per upsert request.

    Each point's payload holds the document's ``id``, ``text`` and ``metadata``; mapping filters become Qdrant
    ``must`` conditions on ``metadata.<key>`` (a list value: match any), so they run inside Qdrant. Predicate
    filters are not supported (Qdrant cannot run Python).
    """

    def __init__(self, collection_name: str = "contextzip", *, client: Any = None,
                 embedder: SentenceEmbedder | None = None, model_name_or_path: str = "minilm",
                 batch_size: int = 256, **client_options: Any) -> None:
        if not isinstance(collection_name, str) or not collection_name:
            raise ValueError(f"collection_name must be a non-empty str, but got {collection_name!r}")
        if client is not None and client_options:
            raise ValueError("give either client or client options (location/path/url/...), not both")
        if client is None:
            try:
                from qdrant_client import QdrantClient
            except ImportError as exc:
                raise missing_dependency("qdrant-client", "qdrant") from exc
            client = QdrantClient(**(client_options or {"location": ":memory:"}))
        self.client = client
        self.collection_name = collection_name
        self.embedder = embedder or SentenceEmbedder(model_name_or_path)
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"QdrantRetriever(collection_name={self.collection_name!r}, documents={len(self)})"

    def _exists(self) -> bool:
        return bool(self.client.collection_exists(self.collection_name))

    def __len__(self) -> int:
        if not self._exists():
            return 0
        return int(self.client.count(self.collection_name, exact=True).count)

    def __contains__(self, doc_id: object) -> bool:
        return bool(self._existing([str(doc_id)]))

    def _existing(self, ids: list[str]) -> list[str]:
        if not ids or not self._exists():
            return []
        points = self.client.retrieve(self.collection_name, ids=[point_id(i) for i in ids], with_payload=True)
        return [p.payload["id"] for p in points]

    def get(self, doc_id: str) -> Document | None:
        if not self._exists():
            return None
        points = self.client.retrieve(self.collection_name, ids=[point_id(str(doc_id))], with_payload=True)
        return _document(points[0].payload) if points else None

    # --- writing --------------------------------------------------------------------------------------------

    def add(self, documents: DocumentsInput, *, embeddings: Any = None) -> list[str]:
        """Embed and upsert new documents; an id already in the collection is an error (see :meth:`update`)."""
        docs = with_ids(documents, lambda _: False, len(self))
        clash = self._existing([d.id for d in docs])  # type: ignore[misc]
        if clash:
            raise ValueError(f"document ids already indexed: {clash[:5]!r}; use update() to replace them")
        self._upsert(docs, embeddings)
        return [d.id for d in docs]  # type: ignore[misc]

    def update(self, documents: DocumentsInput, *, embeddings: Any = None) -> list[str]:
        """Replace documents (text, metadata, vector) matched by id; every id must be in the collection."""
        docs = with_ids(documents, lambda _: False, 0)
        found = set(self._existing([d.id for d in docs]))  # type: ignore[misc]
        missing = [d.id for d in docs if d.id not in found]
        if missing:
            raise ValueError(f"document ids not in the collection: {missing[:5]!r}; use add() for new documents")
        self._upsert(docs, embeddings)
        return [d.id for d in docs]  # type: ignore[misc]

    def delete(self, ids: str | Iterable[str]) -> int:
        """Delete documents by id; returns how many were in the collection."""
        found = self._existing(ids_of(ids))
        if found:
            models = _models()
            self.client.delete(self.collection_name,
                               points_selector=models.PointIdsList(points=[point_id(i) for i in found]))
        return len(found)

    def _upsert(self, docs: list[Document], embeddings: Any) -> None:
        if not docs:
            return
        models = _models()
        vectors = self.embedder.encode([d.text for d in docs]) if embeddings is None else embeddings
        if len(vectors) != len(docs):
            raise ValueError(f"got {len(vectors)} embeddings for {len(docs)} documents")
        if not self._exists():
            self.client.create_collection(self.collection_name, vectors_config=models.VectorParams(
                size=int(len(vectors[0])), distance=models.Distance.COSINE))
        points = [models.PointStruct(id=point_id(d.id), vector=[float(x) for x in v],  # type: ignore[arg-type]
                                     payload={"id": d.id, "text": d.text, "metadata": dict(d.metadata)})
                  for d, v in zip(docs, vectors, strict=True)]
        for start in range(0, len(points), self.batch_size):
            self.client.upsert(self.collection_name, points=points[start:start + self.batch_size])

    # --- searching ------------------------------------------------------------------------------------------

    def _search_batch(self, queries: list[str], k: int, filter: MetadataFilter | None) -> list[list[SearchHit]]:
        models = _models()
        condition = qdrant_filter(filter)
        vectors = self.embedder.encode(queries)
        requests = [models.QueryRequest(query=[float(x) for x in v], filter=condition, limit=k, with_payload=True)
                    for v in vectors]
        responses = self.client.query_batch_points(self.collection_name, requests=requests)
        return [[SearchHit(_document(p.payload), float(p.score)) for p in r.points] for r in responses]


def qdrant_filter(filter: MetadataFilter | None) -> Any:
    """A Qdrant ``Filter`` for a mapping filter (equality; a list/tuple/set value matches any of its values)."""
    if filter is None:
        return None
    if not isinstance(filter, Mapping):
        raise TypeError("QdrantRetriever takes mapping filters only ({'key': value}); a predicate cannot run in Qdrant")
    models = _models()
    must = []
    for key, wanted in filter.items():
        match = (models.MatchAny(any=list(wanted)) if isinstance(wanted, (list, tuple, set, frozenset))
                 else models.MatchValue(value=wanted))
        must.append(models.FieldCondition(key=f"metadata.{key}", match=match))
    return models.Filter(must=must)


def _document(payload: Mapping[str, Any]) -> Document:
    return Document(payload["text"], payload["id"], payload.get("metadata") or {})
