"""Retrieve, then compress: one call from a query to a context within a token budget."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.compressors.base import BaseCompressor
from contextzip.retrievers.base import MetadataFilter, Retriever, SearchHit, check_k, check_queries
from contextzip.types import CompressionResult, Document, DocumentStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalResult:
    """What one query retrieved and what compression made of it.

    ``hits`` are the retrieved documents in rank order; ``compression.documents`` has one entry per hit, in the
    same order (kept, shortened or dropped, by id). ``text`` is the compressed context.
    """

    query: str
    hits: Sequence[SearchHit]
    compression: CompressionResult
    retrieval_ms: float = 0.0

    @property
    def text(self) -> str:
        return self.compression.text

    @property
    def documents(self) -> list[Document]:
        """The retrieved documents that survived, with their compressed text, ids and metadata, in rank order."""
        return [Document(dr.text, hit.document.id, hit.document.metadata)
                for hit, dr in zip(self.hits, self.compression.documents, strict=True)
                if dr.status is not DocumentStatus.DROPPED]

    def __str__(self) -> str:
        return self.text


class CompressingRetriever:
    """Retrieve ``k`` documents and compress them, together, to one token budget.

    Args:
        retriever: anything with ``search_batch(queries, k, filter=...)`` (BM25, dense, hybrid, Qdrant, ...).
        compressor: a registry name ("query-guided", the default) or a compressor instance.
        target_tokens / rate: the budget per query (exactly one).
        k: documents retrieved per query.
        token_counter: used with a registry name ("o200k_base" by default).

    :meth:`batch` retrieves for all queries in one batched search and compresses all of them in one batched
    scoring pass.

    Example:
        >>> zipper = CompressingRetriever(BM25Retriever(), target_tokens=300, k=10)
        >>> zipper.retriever.add(corpus)  # doctest: +SKIP
        >>> zipper.retrieve("Who founded the company?").text  # doctest: +SKIP
    """

    def __init__(self, retriever: Retriever, compressor: str | BaseCompressor = "query-guided", *,
                 target_tokens: int | None = None, rate: float | None = None, k: int = 10,
                 token_counter: str | None = None) -> None:
        if not callable(getattr(retriever, "search_batch", None)):
            raise TypeError(f"retriever must have search_batch(queries, k, filter=...), but got {type(retriever).__name__}")
        resolve_budget(1, target_tokens, rate)  # exactly one, and valid
        if not isinstance(compressor, (str, BaseCompressor)):
            raise TypeError(f"compressor must be a registry name or a compressor, but got {type(compressor).__name__}")
        self.retriever = retriever
        self.k = check_k(k)
        self.target_tokens, self.rate = target_tokens, rate
        self.token_counter = token_counter
        self._compressor_arg = compressor
        self._compressor: BaseCompressor | None = compressor if isinstance(compressor, BaseCompressor) else None

    def __repr__(self) -> str:
        budget = f"target_tokens={self.target_tokens}" if self.target_tokens is not None else f"rate={self.rate}"
        return f"CompressingRetriever({self.retriever!r}, {self._compressor_arg!r}, {budget}, k={self.k})"

    @property
    def compressor(self) -> BaseCompressor:
        if self._compressor is None:
            from contextzip.api import resolve_compressor

            self._compressor = resolve_compressor(self._compressor_arg, self.token_counter)
        return self._compressor

    def retrieve(self, query: str, *, k: int | None = None, filter: MetadataFilter | None = None) -> RetrievalResult:
        """Retrieve ``k`` documents for ``query`` and compress them to the budget."""
        return self.batch([_one_query(query)], k=k, filter=filter)[0]

    __call__ = retrieve

    def batch(self, queries: Sequence[str], *, k: int | None = None,
              filter: MetadataFilter | None = None) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries: one batched search, one batched compression pass."""
        queries, k = check_queries(queries), self._k(k)
        if not queries:
            return []
        start = time.perf_counter()
        hits = self.retriever.search_batch(queries, k, filter=filter)
        retrieval_ms = (time.perf_counter() - start) * 1000 / len(queries)
        compressions = self.compressor.compress_batch(_items(queries, hits), target_tokens=self.target_tokens,
                                                      rate=self.rate)
        return self._results(queries, hits, compressions, retrieval_ms)

    async def aretrieve(self, query: str, *, k: int | None = None,
                        filter: MetadataFilter | None = None) -> RetrievalResult:
        """Async :meth:`retrieve`."""
        return (await self.abatch([_one_query(query)], k=k, filter=filter))[0]

    async def abatch(self, queries: Sequence[str], *, k: int | None = None,
                     filter: MetadataFilter | None = None) -> list[RetrievalResult]:
        """Async :meth:`batch`: the search and the model work run in worker threads."""
        queries, k = check_queries(queries), self._k(k)
        if not queries:
            return []
        start = time.perf_counter()
        asearch = getattr(self.retriever, "asearch_batch", None)
        if asearch is not None:
            hits = await asearch(queries, k, filter=filter)
        else:
            hits = await asyncio.to_thread(self.retriever.search_batch, queries, k, filter=filter)
        retrieval_ms = (time.perf_counter() - start) * 1000 / len(queries)
        items = _items(queries, hits)
        compressor = self.compressor
        acompress = getattr(compressor, "acompress_batch", None)
        if acompress is not None:
            compressions = await acompress(items, target_tokens=self.target_tokens, rate=self.rate)
        else:
            compressions = await asyncio.to_thread(compressor.compress_batch, items,
                                                   target_tokens=self.target_tokens, rate=self.rate)
        return self._results(queries, hits, compressions, retrieval_ms)

    def _k(self, k: int | None) -> int:
        return self.k if k is None else check_k(k)

    @staticmethod
    def _results(queries: list[str], hits: list[list[SearchHit]], compressions: list[CompressionResult],
                 retrieval_ms: float) -> list[RetrievalResult]:
        return [RetrievalResult(q, list(h), c, retrieval_ms)
                for q, h, c in zip(queries, hits, compressions, strict=True)]


def _one_query(query: object) -> str:
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, but got {type(query).__name__}")
    return query


def _items(queries: Sequence[str], hits: Sequence[Sequence[SearchHit]]) -> list[tuple[str, list[Any]]]:
    """(query, retrieved documents) pairs, as ``compress_batch`` takes them."""
    return [(q, [h.document for h in hs]) for q, hs in zip(queries, hits, strict=True)]
