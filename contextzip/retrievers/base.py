"""What every retriever shares: hits, the retriever protocol, argument checks, metadata filters, a document store."""

from __future__ import annotations

import asyncio
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from contextzip.compressors.base import DocumentsInput, as_documents
from contextzip.types import Document

MetadataFilter = Mapping[str, Any] | Callable[[Document], bool]
"""``{"key": value}`` (every key equal; a list/tuple/set value means "any of these") or a predicate on Documents."""


@dataclass(frozen=True)
class SearchHit:
    """One retrieved document and its score (higher is better; the scale depends on the retriever)."""

    document: Document
    score: float


@runtime_checkable
class Retriever(Protocol):
    """Anything that returns the ``k`` best documents for a query, one query or many at a time."""

    def search(self, query: str, k: int = 5, *, filter: MetadataFilter | None = None) -> list[SearchHit]: ...

    def search_batch(self, queries: Sequence[str], k: int = 5, *,
                     filter: MetadataFilter | None = None) -> list[list[SearchHit]]: ...


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, but got {k!r}")
    return k


def check_queries(queries: Any) -> list[str]:
    if isinstance(queries, str) or not isinstance(queries, Sequence):
        raise TypeError(f"queries must be a sequence of str, but got {type(queries).__name__}")
    for n, q in enumerate(queries):
        if not isinstance(q, str):
            raise TypeError(f"query {n} must be a str, but got {type(q).__name__}")
    return list(queries)


def matches(document: Document, filter: MetadataFilter | None) -> bool:
    """Whether ``document`` passes ``filter`` (see :data:`MetadataFilter`)."""
    if filter is None:
        return True
    if callable(filter):
        return bool(filter(document))
    for key, wanted in filter.items():
        if key not in document.metadata:
            return False
        value = document.metadata[key]
        if isinstance(wanted, (list, tuple, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def check_filter(filter: Any) -> MetadataFilter | None:
    if filter is None or callable(filter) or isinstance(filter, Mapping):
        return filter
    raise TypeError(f"filter must be a mapping of metadata values or a callable, but got {type(filter).__name__}")


def ids_of(ids: str | Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        return [ids]
    if not isinstance(ids, Iterable):
        raise TypeError(f"ids must be a str or an iterable of str, but got {type(ids).__name__}")
    return [str(i) for i in ids]


def with_ids(documents: DocumentsInput, taken: Callable[[str], bool], next_number: int) -> list[Document]:
    """Normalise documents; those without an explicit id get the next free running number as id."""
    raw = [documents] if isinstance(documents, (str, Document)) else list(documents)  # type: ignore[arg-type]
    docs = as_documents(raw)
    explicit = [(isinstance(o, Document) and o.id is not None) or (isinstance(o, Mapping) and o.get("id") is not None)
                for o in raw]
    given = {d.id for d, e in zip(docs, explicit, strict=True) if e}
    out = []
    number = next_number
    for i, (doc, has_id) in enumerate(zip(docs, explicit, strict=True)):
        if not has_id:
            number = max(number, next_number + i)  # position in the index, as before ids were explicit
            while taken(str(number)) or str(number) in given:
                number += 1
            doc = Document(doc.text, str(number), doc.metadata)
            number += 1
        out.append(doc)
    seen: set[str] = set()
    for d in out:
        if d.id in seen:
            raise ValueError(f"document id {d.id!r} appears twice in one add(); ids must be unique")
        seen.add(d.id)  # type: ignore[arg-type]
    return out


def write_documents(path: str, rows: Iterable[tuple[int, Document]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for label, d in rows:
            f.write(json.dumps({"label": label, "id": d.id, "text": d.text, "metadata": dict(d.metadata)},
                               ensure_ascii=False) + "\n")


def read_documents(path: str) -> list[tuple[int, Document]]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(int(r.get("label", n)), Document(r["text"], r["id"], r.get("metadata") or {}))
            for n, r in enumerate(rows)]


def write_config(folder: str, config: Mapping[str, Any]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(config), f, indent=1)


def read_config(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder!r} holds no saved retriever (no config.json)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class BaseRetriever(ABC):
    """The public methods around one protected batched search, ``_search_batch``.

    :meth:`search` and :meth:`search_batch` check their arguments, handle the empty index and call
    ``_search_batch``; the async variants run the sync ones in a worker thread.
    """

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _search_batch(self, queries: list[str], k: int, filter: MetadataFilter | None) -> list[list[SearchHit]]:
        """The ``k`` best hits of each query, best first; ``filter`` already checked."""

    def search(self, query: str, k: int = 5, *, filter: MetadataFilter | None = None) -> list[SearchHit]:
        """The ``k`` best documents for ``query`` (that pass ``filter``), best first."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, but got {type(query).__name__}")
        return self.search_batch([query], k, filter=filter)[0]

    def search_batch(self, queries: Sequence[str], k: int = 5, *,
                     filter: MetadataFilter | None = None) -> list[list[SearchHit]]:
        """:meth:`search` for many queries in one batched pass; one list of hits per query, in order."""
        queries = check_queries(queries)
        check_k(k)
        filter = check_filter(filter)
        if not queries:
            return []
        if self._is_empty():
            return [[] for _ in queries]
        return self._search_batch(queries, k, filter)

    def _is_empty(self) -> bool:
        return len(self) == 0

    def search_documents(self, query: str, k: int = 5, *, filter: MetadataFilter | None = None) -> list[Document]:
        return [hit.document for hit in self.search(query, k, filter=filter)]

    async def asearch(self, query: str, k: int = 5, *, filter: MetadataFilter | None = None) -> list[SearchHit]:
        return await asyncio.to_thread(self.search, query, k, filter=filter)

    async def asearch_batch(self, queries: Sequence[str], k: int = 5, *,
                            filter: MetadataFilter | None = None) -> list[list[SearchHit]]:
        return await asyncio.to_thread(self.search_batch, queries, k, filter=filter)
