"""Budgets: validating ``target_tokens`` / ``rate`` and assembling extractive output within a token budget.

Extractive compressors score *units* (sentences, words, ...) and hand them to :func:`assemble`, which keeps the
best units that fit, renders them in their original order, fills leftover budget with the head of the best
remaining unit, and verifies the count of the final text with the real token counter, so the output never
exceeds the budget and, whenever the input is larger, uses at least 95% of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from contextzip.errors import BudgetError
from contextzip.tokens import TokenCounter, prefix_within

MIN_BUDGET_USE = 0.95


def resolve_budget(original_tokens: int, target_tokens: int | None, rate: float | None) -> int:
    """Exactly one of ``target_tokens`` (> 0) and ``rate`` (in (0, 1]) sets the token budget."""
    if (target_tokens is None) == (rate is None):
        raise ValueError(
            "Give exactly one of target_tokens or rate, but got "
            f"target_tokens={target_tokens!r} and rate={rate!r}"
        )
    if target_tokens is not None:
        if isinstance(target_tokens, bool) or not isinstance(target_tokens, int):
            raise TypeError(f"target_tokens must be an int, but got {type(target_tokens).__name__}")
        if target_tokens <= 0:
            raise ValueError(f"target_tokens must be > 0, but got {target_tokens}")
        return target_tokens
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"rate must be a float, but got {type(rate).__name__}")
    if not (0.0 < float(rate) <= 1.0) or math.isnan(rate):
        raise ValueError(f"rate must be in (0, 1], but got {rate}")
    return max(1, int(math.floor(float(rate) * original_tokens)))


@dataclass
class Unit:
    """A scored extractive unit: ``text == doc_texts[doc][start:end]``."""

    doc: int
    start: int
    end: int
    score: float
    tokens: int = 0


@dataclass
class Assembly:
    text: str
    tokens: int
    doc_texts: list[str]          # compressed text per document ("" when dropped)
    doc_full: list[bool]          # every unit of the document kept whole
    kept_units: list[tuple[int, int, int]]  # (doc, start, end) of what was kept, partial units included


def _render_doc(source: str, pieces: list[tuple[int, int]]) -> str:
    """Join kept pieces in source order; adjacent pieces keep the whitespace between them."""
    out: list[str] = []
    prev_end = None
    for start, end in pieces:
        if prev_end is not None:
            gap = source[prev_end:start]
            if gap.strip() == "":
                out.append(gap if gap else " ")
            else:
                out.append("\n" if "\n" in gap else " ")
        out.append(source[start:end])
        prev_end = end
    return "".join(out)


def render(doc_texts: Sequence[str], kept: dict[int, list[tuple[int, int]]], separator: str) -> tuple[str, list[str]]:
    per_doc = []
    for d, source in enumerate(doc_texts):
        pieces = sorted(kept.get(d, []))
        per_doc.append(_render_doc(source, pieces) if pieces else "")
    return separator.join(t for t in per_doc if t), per_doc


def assemble(
    doc_texts: Sequence[str],
    units: Sequence[Unit],
    budget: int,
    counter: TokenCounter,
    separator: str = "\n\n",
    fill: bool = True,
    min_score: float | None = None,
) -> Assembly:
    """Keep the highest-scoring units that fit ``budget`` tokens, in source order, and fill what is left.

    Units with ``score`` below ``min_score`` are never kept (a compressor's relevance cut-off); ties keep the
    earlier unit. ``fill`` adds the head of the best unit that no longer fits whole.
    """
    if budget < 0:
        raise BudgetError(f"budget must be >= 0, but got {budget}")
    missing = [u for u in units if u.tokens <= 0]
    if missing:
        counts = counter.count_many([" " + doc_texts[u.doc][u.start:u.end] for u in missing])
        for u, n in zip(missing, counts, strict=True):
            u.tokens = max(1, n)
    order = sorted(range(len(units)), key=lambda i: (-units[i].score, units[i].doc, units[i].start))
    eligible = [i for i in order if min_score is None or units[i].score >= min_score]
    sep_cost = max(1, counter.count(separator)) if separator else 0

    chosen: list[int] = []
    used = 0
    docs_used: set[int] = set()
    for i in eligible:
        u = units[i]
        cost = u.tokens + 1 + (sep_cost if u.doc not in docs_used and docs_used else 0)
        if used + cost <= budget:
            chosen.append(i)
            used += cost
            docs_used.add(u.doc)

    def current(extra: tuple[int, int, int] | None = None) -> tuple[str, list[str], int]:
        kept: dict[int, list[tuple[int, int]]] = {}
        for i in chosen:
            kept.setdefault(units[i].doc, []).append((units[i].start, units[i].end))
        if extra is not None:
            kept.setdefault(extra[0], []).append((extra[1], extra[2]))
        text, per_doc = render(doc_texts, kept, separator)
        return text, per_doc, counter.count(text)

    text, per_doc, n = current()
    # Estimates are per unit; the joined text can differ by a few tokens. Drop the weakest until it fits.
    while n > budget and chosen:
        chosen.pop()
        text, per_doc, n = current()

    partial: tuple[int, int, int] | None = None
    if fill and n < budget:
        chosen_set = set(chosen)
        # Whole units that still fit, best first, then the head of the best one that does not.
        for i in eligible:
            if i in chosen_set:
                continue
            u = units[i]
            if u.tokens + 1 > budget - n:
                continue
            chosen.append(i)
            chosen_set.add(i)
            t2, pd2, n2 = current()
            if n2 <= budget:
                text, per_doc, n = t2, pd2, n2
            else:
                chosen.pop()
                chosen_set.discard(i)
        for i in eligible:
            if i in chosen_set or n >= budget:
                continue
            u = units[i]
            # Start optimistic (joiners often merge into the next token) and shrink by the overshoot.
            room = budget - n
            while room > 0:
                head = prefix_within(doc_texts[u.doc][u.start:u.end], room, counter)
                if not head:
                    break
                candidate = (u.doc, u.start, u.start + len(head))
                t2, pd2, n2 = current(candidate)
                if n2 <= budget:
                    text, per_doc, n, partial = t2, pd2, n2, candidate
                    break
                room -= max(1, n2 - budget)
            break

    doc_full = [False] * len(doc_texts)
    units_per_doc: dict[int, int] = {}
    for u in units:
        units_per_doc[u.doc] = units_per_doc.get(u.doc, 0) + 1
    kept_per_doc: dict[int, int] = {}
    for i in chosen:
        kept_per_doc[units[i].doc] = kept_per_doc.get(units[i].doc, 0) + 1
    for d in range(len(doc_texts)):
        doc_full[d] = units_per_doc.get(d, 0) > 0 and kept_per_doc.get(d, 0) == units_per_doc[d]
    kept_units = sorted((units[i].doc, units[i].start, units[i].end) for i in chosen)
    if partial is not None:
        kept_units = sorted(kept_units + [partial])
    return Assembly(text=text, tokens=n, doc_texts=per_doc, doc_full=doc_full, kept_units=kept_units)
