"""The base class every compressor shares: input handling, budgets, accounting and batching."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from contextzip.budget import resolve_budget
from contextzip.errors import ContextZipError
from contextzip.tokens import TokenCounter, get_token_counter
from contextzip.types import CompressionResult, Document, DocumentResult, DocumentStatus

logger = logging.getLogger(__name__)

DocumentsInput = str | Document | Sequence[str | Document | Mapping[str, Any]]


def as_documents(documents: DocumentsInput) -> list[Document]:
    """Normalise a str, a Document, or a sequence of str / Document / {"text", "id", "metadata"} dicts.

    Documents without an id get their position as id. Inputs are never mutated.
    """
    if isinstance(documents, (str, Document)):
        documents = [documents]
    elif isinstance(documents, (bytes, bytearray)):
        raise TypeError("documents must be str, not bytes: decode them first (for example bytes.decode('utf-8'))")
    elif isinstance(documents, Mapping) or not isinstance(documents, Iterable):
        raise TypeError(
            "documents must be a str, a Document or a sequence of them, "
            f"but got {type(documents).__name__}"
        )
    out: list[Document] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, Document):
            out.append(doc if doc.id is not None else Document(doc.text, str(i), doc.metadata))
        elif isinstance(doc, str):
            out.append(Document(doc, str(i)))
        elif isinstance(doc, Mapping) and "text" in doc:
            text = doc["text"]
            if not isinstance(text, str):
                raise TypeError(f"document {i}: 'text' must be str, but got {type(text).__name__}")
            doc_id = doc.get("id")
            out.append(Document(text, str(doc_id) if doc_id is not None else str(i), dict(doc.get("metadata") or {})))
        else:
            raise TypeError(
                f"document {i} must be a str, a Document or a mapping with 'text', but got {type(doc).__name__}"
            )
    return out


@dataclass
class CompressionRequest:
    """One prepared (query, documents, budget) job, as a compressor's ``_compress`` receives it."""

    documents: list[Document]
    query: str | None
    budget: int
    original_tokens: int
    document_tokens: list[int]
    counter: TokenCounter
    separator: str

    @property
    def texts(self) -> list[str]:
        return [d.text for d in self.documents]


@dataclass
class CompressedOutput:
    """What a subclass returns: the text, each document's compressed text, optional scores and notes."""

    text: str
    document_texts: list[str]
    document_full: list[bool] | None = None
    scores: list[float | None] | None = None
    strategy: str = ""
    under_budget_reason: str | None = None
    extra: Mapping[str, Any] | None = None


class BaseCompressor(ABC):
    """Shared behaviour of every compressor.

    The public :meth:`compress` validates input, counts tokens, resolves the budget, handles empty input and
    input already within budget, then calls the subclass's ``_compress``; :meth:`compress_batch` prepares many
    (query, documents) pairs and hands them to ``_compress_batch`` so model-based compressors score them in one
    batched pass. Every result accounts for every input document.

    Args:
        token_counter: "o200k_base" (default), "cl100k_base", "hf:<model>" or a :class:`TokenCounter`.
        separator: what joins documents in the output text.
    """

    name: ClassVar[str] = "base"
    uses_query: ClassVar[bool] = False

    def __init__(self, *, token_counter: str | TokenCounter | None = None, separator: str = "\n\n") -> None:
        if not isinstance(separator, str):
            raise TypeError(f"separator must be a str, but got {type(separator).__name__}")
        self.token_counter = get_token_counter(token_counter)
        self.separator = separator

    # --- public API ---------------------------------------------------------------------------------------

    def compress(
        self,
        documents: DocumentsInput,
        query: str | None = None,
        *,
        target_tokens: int | None = None,
        rate: float | None = None,
    ) -> CompressionResult:
        """Compress ``documents`` to ``target_tokens`` tokens (or ``rate`` of their tokens), guided by ``query``."""
        return self.compress_batch([(query, documents)], target_tokens=target_tokens, rate=rate)[0]

    def compress_batch(
        self,
        items: Sequence[tuple[str | None, DocumentsInput]],
        *,
        target_tokens: int | None = None,
        rate: float | None = None,
    ) -> list[CompressionResult]:
        """Compress many ``(query, documents)`` pairs; model scores for all of them run as one batched pass."""
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise TypeError(f"items must be a sequence of (query, documents) pairs, but got {type(items).__name__}")
        start = time.perf_counter()
        requests: list[CompressionRequest] = []
        for n, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(f"item {n} must be a (query, documents) pair, but got {item!r:.80}")
            query, docs = item
            requests.append(self._prepare(query, docs, target_tokens, rate))
        results: list[CompressionResult | None] = [None] * len(requests)
        todo: list[int] = []
        for i, req in enumerate(requests):
            if req.original_tokens <= req.budget:
                results[i] = self._passthrough(req)
            else:
                todo.append(i)
        if todo:
            outputs = self._compress_batch([requests[i] for i in todo])
            if len(outputs) != len(todo):
                raise ContextZipError(f"{self.name}: _compress_batch returned {len(outputs)} outputs for {len(todo)}")
            for i, out in zip(todo, outputs, strict=True):
                results[i] = self._finish(requests[i], out)
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(requests))
        return [self._with_time(r, elapsed) for r in results if r is not None]

    # --- for subclasses -----------------------------------------------------------------------------------

    @abstractmethod
    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        """Compress one request whose documents exceed its budget."""

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        """Compress many requests; model-based compressors override this to batch their scoring."""
        return [self._compress(r) for r in requests]

    # --- internals ----------------------------------------------------------------------------------------

    def _prepare(self, query: Any, documents: DocumentsInput, target_tokens: int | None,
                 rate: float | None) -> CompressionRequest:
        if query is not None and not isinstance(query, str):
            raise TypeError(f"query must be a str or None, but got {type(query).__name__}")
        if query is not None and not query.strip():
            query = None
        docs = as_documents(documents)
        doc_tokens = self.token_counter.count_many([d.text for d in docs])
        joined = self.separator.join(d.text for d in docs if d.text.strip())
        original = self.token_counter.count(joined) if joined else 0
        budget = resolve_budget(original, target_tokens, rate)
        return CompressionRequest(docs, query, budget, original, doc_tokens, self.token_counter, self.separator)

    def _passthrough(self, req: CompressionRequest) -> CompressionResult:
        text = self.separator.join(d.text for d in req.documents if d.text.strip())
        docs = [
            DocumentResult(
                id=d.id or str(i), index=i, original_tokens=n, compressed_tokens=n if d.text.strip() else 0,
                status=DocumentStatus.KEPT if d.text.strip() else DocumentStatus.DROPPED,
                text=d.text if d.text.strip() else "", metadata=d.metadata,
            )
            for i, (d, n) in enumerate(zip(req.documents, req.document_tokens, strict=True))
        ]
        reason = "input is empty" if not text else None
        return CompressionResult(
            text=text, original_tokens=req.original_tokens, compressed_tokens=req.original_tokens,
            target_tokens=req.budget, documents=docs, compressor=self.name, query=req.query,
            strategy="passthrough (input within budget)", token_counter=self.token_counter.name,
            under_budget_reason=reason,
        )

    def _finish(self, req: CompressionRequest, out: CompressedOutput) -> CompressionResult:
        counter = self.token_counter
        n = counter.count(out.text)
        if n > req.budget:
            raise ContextZipError(
                f"{self.name} produced {n} tokens for a budget of {req.budget}: this is a bug, please report it"
            )
        if len(out.document_texts) != len(req.documents):
            raise ContextZipError(f"{self.name} accounted for {len(out.document_texts)} of {len(req.documents)} documents")
        counts = counter.count_many(out.document_texts)
        docs = []
        for i, (d, before, after_text, after) in enumerate(
            zip(req.documents, req.document_tokens, out.document_texts, counts, strict=True)
        ):
            if not after_text.strip():
                status = DocumentStatus.DROPPED
            elif (out.document_full[i] if out.document_full is not None else after_text == d.text):
                status = DocumentStatus.KEPT
            else:
                status = DocumentStatus.SHORTENED
            score = out.scores[i] if out.scores is not None else None
            docs.append(DocumentResult(
                id=d.id or str(i), index=i, original_tokens=before, compressed_tokens=after if after_text.strip() else 0,
                status=status, text=after_text if after_text.strip() else "", score=score, metadata=d.metadata,
            ))
        reason = out.under_budget_reason
        if reason is None and n < 0.95 * req.budget:
            reason = "the units that fit left part of the budget unused"
        return CompressionResult(
            text=out.text, original_tokens=req.original_tokens, compressed_tokens=n, target_tokens=req.budget,
            documents=docs, compressor=self.name, query=req.query, strategy=out.strategy,
            token_counter=counter.name, under_budget_reason=reason, extra=dict(out.extra or {}),
        )

    @staticmethod
    def _with_time(result: CompressionResult, elapsed_ms: float) -> CompressionResult:
        from dataclasses import replace

        return replace(result, elapsed_ms=elapsed_ms)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_counter={self.token_counter.name!r})"
