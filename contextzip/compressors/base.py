"""The base class every compressor shares: input handling, budgets, accounting and batching."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from contextzip.budget import resolve_budgets
from contextzip.controls import Controls
from contextzip.errors import ContextZipError
from contextzip.tokens import TokenCounter, get_token_counter
from contextzip.types import (
    CompressionRequest,
    CompressionResult,
    Document,
    DocumentResult,
    DocumentStatus,
    KeptSpan,
)

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
            doc_id, metadata = doc.get("id"), doc.get("metadata") or {}
            if not isinstance(metadata, Mapping):
                raise TypeError(f"document {i}: 'metadata' must be a mapping, but got {type(metadata).__name__}")
            out.append(Document(text, str(doc_id) if doc_id is not None else str(i), dict(metadata)))
        else:
            raise TypeError(
                f"document {i} must be a str, a Document or a mapping with 'text', but got {type(doc).__name__}"
            )
    return out


@dataclass(frozen=True)
class CompressedOutput:
    """What a subclass returns: the text, each document's compressed text and the typed details it knows.

    ``scores`` are document relevances in [0, 1] (or ``None``); ``tokens`` is the real token count of ``text``
    when the subclass measured it (the budget fitter always does), so the base class need not count again.
    """

    text: str
    document_texts: Sequence[str]
    document_full: Sequence[bool] | None = None
    scores: Sequence[float | None] | None = None
    strategy: str = ""
    under_budget_reason: str | None = None
    tokens: int | None = None
    kept_spans: Sequence[KeptSpan] | None = None
    threshold: float | None = None
    faithfulness: float | None = None
    document_ranking: Sequence[str] | None = None
    extra: Mapping[str, Any] | None = None


BudgetArg = int | Sequence[int | None] | None
RateArg = float | Sequence[float | None] | None


class BaseCompressor:
    """Shared behaviour of every compressor.

    The public :meth:`compress_batch` validates input, counts tokens, resolves each item's budget, handles
    empty input and input already within budget, then hands the rest to the subclass's ``_compress_batch``
    so model-based compressors score all of them in one batched pass; :meth:`compress` is the one-item case.
    Every result accounts for every input document. Models load in :meth:`warm_up` (idempotent, called by the
    first compression when not called before); :meth:`acompress` and :meth:`acompress_batch` run the same work
    in an executor thread, as langchain-core's async defaults do.

    Args:
        token_counter: "o200k_base" (default), "cl100k_base", "hf:<model>" or a :class:`TokenCounter`.
        separator: what joins documents in the output text.
        force_keep, keep_ids, protect, reorder: the controls of :mod:`contextzip.controls` (sentence- and
            word-level compressors only; others raise ``ValueError`` when given them).
    """

    name: ClassVar[str] = "base"
    uses_query: ClassVar[bool] = False
    #: the marker an extractive compressor puts where it dropped text (``None``: none); faithfulness checks
    #: skip it
    elision: str | None = None
    #: ``True`` for compressors that also act on input within the budget (the abstractive relevance gate):
    #: every request then reaches ``_compress_batch``.
    compresses_within_budget: ClassVar[bool] = False
    #: ``True`` for compressors that honour ``force_keep`` / ``keep_ids`` / ``protect`` / ``reorder``
    supports_controls: ClassVar[bool] = False

    def __init__(self, *, token_counter: str | TokenCounter | None = None, separator: str = "\n\n",
                 force_keep: Iterable[str | re.Pattern[str]] | None = None, keep_ids: Iterable[str] | None = None,
                 protect: Iterable[str] | None = None, reorder: str | None = None) -> None:
        cls = type(self)
        if cls._compress is BaseCompressor._compress and cls._compress_batch is BaseCompressor._compress_batch:
            raise TypeError(f"{cls.__name__} must implement _compress or _compress_batch")
        if not isinstance(separator, str):
            raise TypeError(f"separator must be a str, but got {type(separator).__name__}")
        self.token_counter = get_token_counter(token_counter)
        self.separator = separator
        # force_keep / keep_ids / protect / reorder: see contextzip.controls (honoured by the extractive and
        # word-level compressors that pass self.controls to the budget fitter)
        self.controls = Controls.build(force_keep, keep_ids, protect, reorder)
        if self.controls.active and not self.supports_controls:
            raise ValueError(f"{self.name} does not take force_keep, keep_ids, protect or reorder (the sentence and "
                             "word-level compressors do)")
        if self.controls.reorder is not None:
            self.compresses_within_budget = True  # input within its budget is reordered too

    # --- public API ---------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load what the compressor needs (models, tokenizers). Idempotent; compressing calls it when needed."""
        return None  # model-free compressors have nothing to load

    def compress(self, documents: DocumentsInput, query: str | None = None, *, target_tokens: int | None = None,
                 rate: float | None = None) -> CompressionResult:
        """Compress ``documents`` to ``target_tokens`` tokens (or ``rate`` of their tokens), guided by ``query``."""
        return self.compress_batch([(query, documents)], target_tokens=target_tokens, rate=rate)[0]

    def compress_batch(self, items: Sequence[tuple[str | None, DocumentsInput]], *, target_tokens: BudgetArg = None,
                       rate: RateArg = None) -> list[CompressionResult]:
        """Compress many ``(query, documents)`` pairs; model scores for all of them run as one batched pass.

        ``target_tokens`` / ``rate`` is one value for every item, or a sequence with one per item.
        """
        start = time.perf_counter()
        requests = self._requests(items, target_tokens, rate)
        results: list[CompressionResult | None] = [None] * len(requests)
        todo: list[int] = []
        for i, req in enumerate(requests):
            if req.original_tokens <= req.budget and not (self.compresses_within_budget and req.original_tokens):
                results[i] = self._passthrough(req)
            else:
                todo.append(i)
        if todo:
            self.warm_up()
            outputs = self._compress_batch([requests[i] for i in todo])
            if len(outputs) != len(todo):
                raise ContextZipError(f"{self.name}: _compress_batch returned {len(outputs)} outputs for {len(todo)}")
            for i, out in zip(todo, outputs, strict=True):
                results[i] = self._finish(requests[i], out)
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(requests))
        return [replace(r, elapsed_ms=elapsed) for r in results if r is not None]

    async def acompress(self, documents: DocumentsInput, query: str | None = None, *,
                        target_tokens: int | None = None, rate: float | None = None) -> CompressionResult:
        """:meth:`compress` in the event loop's default executor (the loop stays free)."""
        call = functools.partial(self.compress, documents, query, target_tokens=target_tokens, rate=rate)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def acompress_batch(self, items: Sequence[tuple[str | None, DocumentsInput]], *,
                              target_tokens: BudgetArg = None, rate: RateArg = None) -> list[CompressionResult]:
        """:meth:`compress_batch` in the event loop's default executor."""
        call = functools.partial(self.compress_batch, items, target_tokens=target_tokens, rate=rate)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    # --- for subclasses -----------------------------------------------------------------------------------

    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        """Compress one request whose documents exceed its budget (default: a batch of one)."""
        return self._compress_batch([request])[0]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        """Compress many requests; model-based compressors implement this to batch their scoring."""
        return [self._compress(r) for r in requests]

    def _passthrough(self, req: CompressionRequest) -> CompressionResult:
        """The result for input within its budget: every non-blank document, unchanged."""
        return self._finish(req, passthrough_output(req))

    # --- internals ----------------------------------------------------------------------------------------

    def _requests(self, items: Sequence[tuple[str | None, DocumentsInput]], target_tokens: BudgetArg,
                  rate: RateArg) -> list[CompressionRequest]:
        """Validated items with their token counts and budgets (what :meth:`compress_batch` works on)."""
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise TypeError(f"items must be a sequence of (query, documents) pairs, but got {type(items).__name__}")
        prepared = [self._prepare_item(n, item) for n, item in enumerate(items)]
        budgets = resolve_budgets([p[3] for p in prepared], target_tokens, rate)
        return [CompressionRequest(docs, query, budget, original, doc_tokens, self.token_counter, self.separator)
                for (query, docs, doc_tokens, original), budget in zip(prepared, budgets, strict=True)]

    def _prepare_item(self, n: int, item: Any) -> tuple[str | None, tuple[Document, ...], tuple[int, ...], int]:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"item {n} must be a (query, documents) pair, but got {item!r:.80}")
        query, documents = item
        if query is not None and not isinstance(query, str):
            raise TypeError(f"query must be a str or None, but got {type(query).__name__}")
        if query is not None and not query.strip():
            query = None
        docs = tuple(as_documents(documents))
        doc_tokens = tuple(self.token_counter.count_many([d.text for d in docs]))
        joined = self.separator.join(d.text for d in docs if d.text.strip())
        original = self.token_counter.count(joined) if joined else 0
        return query, docs, doc_tokens, original

    def _finish(self, req: CompressionRequest, out: CompressedOutput) -> CompressionResult:
        counter = self.token_counter
        n = out.tokens if out.tokens is not None else counter.count(out.text)
        if n > req.budget:
            raise ContextZipError(
                f"{self.name} produced {n} tokens for a budget of {req.budget}: this is a bug, please report it"
            )
        if len(out.document_texts) != len(req.documents):
            raise ContextZipError(f"{self.name} accounted for {len(out.document_texts)} of {len(req.documents)} documents")
        counts = counter.count_many(list(out.document_texts))
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
        if reason is None and not out.text and req.original_tokens == 0:
            reason = "input is empty"
        elif reason is None and n < 0.95 * req.budget and n < req.original_tokens:
            reason = f"{n} of {req.budget} tokens used: the next whole unit would not fit in what is left"
        return CompressionResult(
            text=out.text, original_tokens=req.original_tokens, compressed_tokens=n, target_tokens=req.budget,
            documents=docs, compressor=self.name, query=req.query, strategy=out.strategy,
            token_counter=counter.name, under_budget_reason=reason,
            kept_spans=tuple(out.kept_spans) if out.kept_spans is not None else None,
            threshold=out.threshold, faithfulness=out.faithfulness,
            document_ranking=tuple(out.document_ranking) if out.document_ranking is not None else None,
            extra=dict(out.extra or {}),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_counter={self.token_counter.name!r})"


def passthrough_output(req: CompressionRequest) -> CompressedOutput:
    """Every non-blank document unchanged (blank ones dropped), as for input within its budget."""
    texts = [d.text if d.text.strip() else "" for d in req.documents]
    kept = [KeptSpan(i, 0, len(t)) for i, t in enumerate(texts) if t]
    return CompressedOutput(
        text=req.separator.join(t for t in texts if t), document_texts=texts,
        document_full=[bool(t) for t in texts], strategy="passthrough (input within budget)",
        tokens=req.original_tokens, kept_spans=kept,
    )
