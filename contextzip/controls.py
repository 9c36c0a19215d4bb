"""What a caller may impose on the default compressors beyond the budget: force-keep, protect, reordering, and
sections with their own rates.

* ``force_keep``: terms (plain strings, matched as written) or compiled regexes; every unit (sentence, or word for
  word-level compressors) that holds a match ranks before all others in the budget fitter, so it is kept whenever
  anything of the budget is left for it;
* ``keep_ids``: ids of documents that must appear in the output: each one's best unit is forced;
* ``protect``: ids of documents never compressed: all their units are forced, so they are kept verbatim (when they
  fit the budget at all);
* ``reorder="relevance"``: the output lists documents from most to least relevant (against "lost in the middle"),
  instead of input order.

:class:`Controls` turns those into the ``forced`` mask and ``doc_order`` that
:func:`contextzip.budget.fit_budget` takes. :func:`compress_sections` gives documents their own rates (and keeps
protected ones verbatim) around any compressor, in the manner of llmlingua's ``structured_compress_prompt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contextzip.budget import resolve_budget
from contextzip.errors import BudgetError
from contextzip.types import CompressionRequest, CompressionResult, DocumentResult, DocumentStatus

REORDERS = (None, "relevance")


def _ids(value: Iterable[str] | None, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a str or an iterable of document ids, but got {type(value).__name__}")
    return frozenset(str(v) for v in value)


@dataclass(frozen=True)
class Controls:
    """Force-keep terms and documents, protected documents and the output order (see the module docstring)."""

    force_keep: tuple[re.Pattern[str], ...] = ()
    keep_ids: frozenset[str] = field(default_factory=frozenset)
    protect: frozenset[str] = field(default_factory=frozenset)
    reorder: str | None = None

    @classmethod
    def build(cls, force_keep: Iterable[str | re.Pattern[str]] | None = None, keep_ids: Iterable[str] | None = None,
              protect: Iterable[str] | None = None, reorder: str | None = None) -> Controls:
        """Validated controls; strings in ``force_keep`` match literally, compiled patterns as regexes."""
        if isinstance(force_keep, (str, re.Pattern)):
            force_keep = [force_keep]
        patterns = []
        for term in force_keep or ():
            if isinstance(term, re.Pattern):
                patterns.append(term)
            elif isinstance(term, str) and term:
                patterns.append(re.compile(re.escape(term)))
            else:
                raise TypeError(f"force_keep items must be non-empty str or re.Pattern, but got {term!r}")
        if reorder not in REORDERS:
            raise ValueError(f"reorder must be one of {REORDERS}, but got {reorder!r}")
        return cls(tuple(patterns), _ids(keep_ids, "keep_ids"), _ids(protect, "protect"), reorder)

    @property
    def active(self) -> bool:
        return bool(self.force_keep or self.keep_ids or self.protect or self.reorder)

    def forced(self, request: CompressionRequest, units: Sequence[Any], scores: Sequence[float] | np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray | None:
        """The units (``.doc``, ``.start``, ``.end``) to rank first, or ``base`` (``None``: no forced units)."""
        if not (self.force_keep or self.keep_ids or self.protect):
            return base
        mask = np.zeros(len(units), dtype=bool) if base is None else np.asarray(base, dtype=bool).copy()
        score = np.asarray(scores, dtype=np.float64)
        ids = [d.id for d in request.documents]
        matches = [[m.span() for p in self.force_keep for m in p.finditer(d.text)] for d in request.documents]
        best: dict[int, int] = {}
        for k, u in enumerate(units):
            doc_id = ids[u.doc]
            if doc_id in self.protect or any(s < u.end and e > u.start for s, e in matches[u.doc]):
                mask[k] = True
            if doc_id in self.keep_ids and (u.doc not in best or score[k] > score[best[u.doc]]):
                best[u.doc] = k
        mask[list(best.values())] = True
        return mask

    def doc_order(self, request: CompressionRequest, units: Sequence[Any], scores: Sequence[float] | np.ndarray,
                  doc_scores: Sequence[float | None] | None = None) -> list[int] | None:
        """Document indices from most to least relevant (``reorder="relevance"``), else ``None`` (input order).

        Relevance is the compressor's document score, or else its best unit's score."""
        if self.reorder != "relevance":
            return None
        n = len(request.documents)
        relevance = np.full(n, -np.inf)
        if doc_scores is not None and all(s is not None for s in doc_scores):
            relevance = np.asarray(doc_scores, dtype=np.float64)
        else:
            for u, s in zip(units, np.asarray(scores, dtype=np.float64), strict=True):
                relevance[u.doc] = max(relevance[u.doc], s)
        return np.lexsort((np.arange(n), -relevance)).tolist()

    def fit_args(self, request: CompressionRequest, units: Sequence[Any], scores: Sequence[float] | np.ndarray,
                 doc_scores: Sequence[float | None] | None = None,
                 forced: np.ndarray | None = None) -> dict[str, Any]:
        """The ``forced`` and ``doc_order`` keyword arguments of :func:`~contextzip.budget.fit_budget`."""
        return {"forced": self.forced(request, units, scores, forced),
                "doc_order": self.doc_order(request, units, scores, doc_scores)}


NO_CONTROLS = Controls()


def compress_sections(
    compressor: Any,
    documents: Any,
    query: str | None = None,
    *,
    target_tokens: int | None = None,
    rate: float | None = None,
    rates: Mapping[str, float] | None = None,
    protect: Iterable[str] | None = None,
) -> CompressionResult:
    """Compress ``documents`` with per-document rates: each document named in ``rates`` is compressed alone to
    its own rate, documents in ``protect`` are kept verbatim, and the others share what is left of the budget
    (``target_tokens``, or ``rate`` of all the documents' tokens). One result, documents in input order.

    Every compression runs through ``compressor.compress_batch`` in one call (per-item budgets).
    """
    from contextzip.compressors.base import as_documents

    docs = as_documents(documents)
    rates = dict(rates or {})
    protected = _ids(protect, "protect")
    for doc_id, r in rates.items():
        resolve_budget(1, None, r)
        if doc_id in protected:
            raise ValueError(f"document {doc_id!r} is both protected and given a rate")
    counter, sep = compressor.token_counter, compressor.separator
    total = counter.count(sep.join(d.text for d in docs if d.text.strip()))
    budget = resolve_budget(total, target_tokens, rate)
    fixed = [i for i, d in enumerate(docs) if d.id in protected]
    rated = [i for i, d in enumerate(docs) if d.id in rates]
    rest = [i for i in range(len(docs)) if i not in fixed and i not in rated]
    items = [(query, [docs[i]]) for i in rated]
    results = compressor.compress_batch(items, rate=[rates[docs[i].id] for i in rated]) if items else []
    texts: dict[int, str] = {i: docs[i].text for i in fixed}
    texts.update({i: r.documents[0].text for i, r in zip(rated, results, strict=True)})
    used = counter.count(sep.join(t for t in texts.values() if t.strip())) if texts else 0
    if used > budget:
        raise BudgetError(f"the protected and rated documents take {used} tokens, more than the budget of {budget}")
    left = budget - used - (counter.count(sep) if used else 0)
    for _ in range(4):  # joining may cost a token more than the parts: shrink the shared budget until it fits
        texts.update({i: "" for i in rest})
        if rest and left > 0:
            shared = compressor.compress([docs[i] for i in rest], query, target_tokens=left)
            texts.update({i: dr.text for i, dr in zip(rest, shared.documents, strict=True)})
        out_text = sep.join(texts[i] for i in range(len(docs)) if texts[i].strip())
        n = counter.count(out_text) if out_text else 0
        if n <= budget:
            break
        left -= n - budget
    else:
        raise BudgetError(f"could not fit the sections into {budget} tokens")
    originals = counter.count_many([d.text for d in docs])
    document_results = []
    for i, d in enumerate(docs):
        text = texts[i] if texts[i].strip() else ""
        status = (DocumentStatus.DROPPED if not text else DocumentStatus.KEPT if text == d.text
                  else DocumentStatus.SHORTENED)
        document_results.append(DocumentResult(id=d.id or str(i), index=i, original_tokens=originals[i],
                                                compressed_tokens=counter.count(text) if text else 0,
                                                status=status, text=text, metadata=d.metadata))
    return CompressionResult(
        text=out_text, original_tokens=total, compressed_tokens=n, target_tokens=budget,
        documents=document_results, compressor=compressor.name, query=query, strategy="sections",
        token_counter=counter.name,
        under_budget_reason=None if n >= 0.95 * budget or n >= total else "protected and rated documents take "
        "their own share; the rest was compressed to what was left",
        extra={"protected": sorted(protected), "rates": rates},
    )
