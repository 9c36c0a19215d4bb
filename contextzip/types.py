"""Typed inputs and results shared by every compressor."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class Document:
    """One retrieved document: its text, a stable id and free-form metadata (never modified)."""

    text: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Document.text must be str, but got {type(self.text).__name__}")
        if self.id is not None and not isinstance(self.id, str):
            object.__setattr__(self, "id", str(self.id))
        if not isinstance(self.metadata, Mapping):
            raise TypeError(f"Document.metadata must be a mapping (a dict), but got {type(self.metadata).__name__}")


class DocumentStatus(str, Enum):
    """What compression did to one input document."""

    KEPT = "kept"
    SHORTENED = "shortened"
    DROPPED = "dropped"


@dataclass(frozen=True)
class DocumentSpan:
    """A stretch of one input document: ``documents[doc].text[start:end]``. The budget fitter's units and the
    kept spans of a result are both document spans."""

    doc: int
    start: int
    end: int


KeptSpan = DocumentSpan  # in a result: a span that appears in the output


@dataclass(frozen=True)
class DocumentResult:
    """Per input document: its id, tokens before and after, what happened to it and its compressed text.

    ``score`` is one thing in every compressor: the document's relevance to the query, in [0, 1] (1 = the most
    relevant document of the request), or ``None`` when the compressor does not rank documents (no query, or a
    query-free method).
    """

    id: str
    index: int
    original_tokens: int
    compressed_tokens: int
    status: DocumentStatus
    text: str
    score: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["status"] = self.status.value
        d["metadata"] = _plain_metadata(self.metadata)
        return d


def _plain_metadata(metadata: Any) -> dict[str, Any]:
    """A JSON-ready copy of metadata: a mapping as a dict, anything else (a bare string) as ``{"value": ...}``."""
    return dict(metadata) if isinstance(metadata, Mapping) else {"value": metadata}


@dataclass(frozen=True)
class CompressionResult:
    """The compressed context and the numbers that describe it.

    ``ratio`` is ``compressed_tokens / original_tokens`` (1.0 for empty input); ``compression_factor`` is
    its inverse. ``documents`` has one entry per input document, in input order. When a compressor
    decides that content is irrelevant and uses less than the budget, ``under_budget_reason`` says why.

    Typed details, ``None`` where a compressor does not produce them:

    * ``kept_spans``: for extractive compressors, every kept character span of the input documents, in
      document and source order (the output is these spans, rendered);
    * ``threshold``: the score of the weakest unit kept (the cut-off a single-threshold method chose);
    * ``faithfulness``: for abstractive summaries, the share of the summary's content words found in the sources;
    * ``document_ranking``: document ids from most to least relevant, as the compressor ranked them.

    ``extra`` holds compressor-specific diagnostics that are not part of the stable result.
    """

    text: str
    original_tokens: int
    compressed_tokens: int
    target_tokens: int
    documents: Sequence[DocumentResult]
    compressor: str
    query: str | None = None
    strategy: str = ""
    token_counter: str = ""
    under_budget_reason: str | None = None
    elapsed_ms: float = 0.0
    kept_spans: tuple[KeptSpan, ...] | None = None
    threshold: float | None = None
    faithfulness: float | None = None
    document_ranking: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.compressed_tokens / self.original_tokens if self.original_tokens else 1.0

    @property
    def compression_factor(self) -> float:
        return self.original_tokens / self.compressed_tokens if self.compressed_tokens else float("inf")

    @property
    def tokens_saved(self) -> int:
        return self.original_tokens - self.compressed_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "original_tokens": self.original_tokens,
            "compressed_tokens": self.compressed_tokens,
            "target_tokens": self.target_tokens,
            "ratio": self.ratio,
            "tokens_saved": self.tokens_saved,
            "compressor": self.compressor,
            "query": self.query,
            "strategy": self.strategy,
            "token_counter": self.token_counter,
            "under_budget_reason": self.under_budget_reason,
            "elapsed_ms": self.elapsed_ms,
            "documents": [d.to_dict() for d in self.documents],
            "kept_spans": None if self.kept_spans is None else [[k.doc, k.start, k.end] for k in self.kept_spans],
            "threshold": self.threshold,
            "faithfulness": self.faithfulness,
            "document_ranking": None if self.document_ranking is None else list(self.document_ranking),
            "extra": dict(self.extra),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str, **kwargs)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class CompressionRequest:
    """One prepared (query, documents, budget) job, as the compression stages receive it (never modified)."""

    documents: tuple[Document, ...]
    query: str | None
    budget: int
    original_tokens: int
    document_tokens: tuple[int, ...]
    counter: Any  # a contextzip.tokens.TokenCounter
    separator: str

    @property
    def texts(self) -> list[str]:
        return [d.text for d in self.documents]
