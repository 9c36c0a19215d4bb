"""An adapter that lets a peer system run through ``contextzip eval``'s runner.

Peers may overshoot the budget (that is one of the things we measure), so they build a ``CompressionResult``
without contextzip's budget check. A peer implements ``_compress_text(documents, question, target_tokens)`` and
returns the compressed context as a string plus, optionally, the ids of documents that kept text.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

from contextzip.budget import resolve_budget
from contextzip.compressors.base import DocumentsInput, as_documents
from contextzip.tokens import TokenCounter, get_token_counter
from contextzip.types import CompressionResult, Document, DocumentResult, DocumentStatus


class PeerCompressor(ABC):
    """Duck-types the parts of ``BaseCompressor`` that the eval runner uses: ``name``, ``token_counter``,
    ``compress``."""

    name = "peer"

    def __init__(self, token_counter: str | TokenCounter | None = None, separator: str = "\n\n") -> None:
        self.token_counter = get_token_counter(token_counter)
        self.separator = separator

    @abstractmethod
    def _compress_text(self, documents: Sequence[Document], question: str | None, target_tokens: int) -> str:
        """The peer's compressed context for this budget."""

    def compress(self, documents: DocumentsInput, query: str | None = None, *, target_tokens: int | None = None,
                 rate: float | None = None) -> CompressionResult:
        docs = as_documents(documents)
        counter = self.token_counter
        original_text = self.separator.join(d.text for d in docs if d.text.strip())
        original = counter.count(original_text)
        budget = resolve_budget(original, target_tokens, rate)
        start = time.perf_counter()
        text = original_text if original <= budget else self._compress_text(docs, query, budget)
        elapsed = (time.perf_counter() - start) * 1000
        results = []
        for i, d in enumerate(docs):
            # A peer returns one string; a document "keeps text" if one of its sentences' first words survives.
            kept = _document_survives(d.text, text)
            n = counter.count(d.text)
            results.append(DocumentResult(
                id=d.id or str(i), index=i, original_tokens=n, compressed_tokens=0,
                status=DocumentStatus.SHORTENED if kept else DocumentStatus.DROPPED, text="", metadata=d.metadata))
        return CompressionResult(
            text=text, original_tokens=original, compressed_tokens=counter.count(text), target_tokens=budget,
            documents=results, compressor=self.name, query=query, token_counter=counter.name, elapsed_ms=elapsed,
        )


def _document_survives(document: str, compressed: str, probe_words: int = 4) -> bool:
    """True if some run of ``probe_words`` consecutive words of ``document`` appears in ``compressed``."""
    words = document.split()
    if not words:
        return False
    if len(words) < probe_words:
        return " ".join(words) in compressed
    haystack = " ".join(compressed.split())
    return any(" ".join(words[i:i + probe_words]) in haystack for i in range(0, len(words) - probe_words + 1))
