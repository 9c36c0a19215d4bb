"""Budgets: validating ``target_tokens`` / ``rate`` and assembling extractive output within a token budget.

Extractive compressors score *units* (sentences, words, ...) and hand them to :func:`assemble`, which works
coarse to fine: it keeps the best units whole while they fit, prunes a unit that no longer fits to its best
window (supplied by the compressor: a query-aware window, or the unit's head) when at least ``partial_share`` of
it can stay, renders everything in original order, and fills leftover budget the same way. The count of the final
text is verified with the real token counter, so the output never exceeds the budget and, whenever the input is
larger, uses at least 95% of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from contextzip.errors import BudgetError
from contextzip.tokens import TokenCounter, prefix_within

MIN_BUDGET_USE = 0.95

# (document index, start, end, max_tokens) -> (start, end) of the window to keep, inside [start, end).
WindowFn = Callable[[int, int, int, int], tuple[int, int]]


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
    if math.isnan(rate) or not (0.0 < float(rate) <= 1.0):
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
    kept_units: list[tuple[int, int, int]]  # (doc, start, end) of what was kept, windows included


@dataclass
class _Piece:
    unit: int
    start: int
    end: int
    tokens: int

    def whole(self, units: Sequence[Unit]) -> bool:
        u = units[self.unit]
        return self.start == u.start and self.end == u.end


_CONTEXT_SLACK = 2  # tokens a joined piece may save against its own count


def render_spans(source: str, pieces: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Join kept pieces (sorted source spans) in source order; adjacent pieces keep the whitespace between them,
    others are joined by one space (or a line break when one was dropped). Also returns where each piece lies in
    the joined text."""
    out: list[str] = []
    where: list[tuple[int, int]] = []
    prev_end, length = None, 0
    for start, end in pieces:
        if prev_end is not None:
            gap = source[prev_end:start]
            joint = gap if gap.strip() == "" else ("\n" if "\n" in gap else " ")  # contiguous: as in the source
            out.append(joint)
            length += len(joint)
        out.append(source[start:end])
        where.append((length, length + end - start))
        length += end - start
        prev_end = end
    return "".join(out), where


def render(doc_texts: Sequence[str], kept: dict[int, list[tuple[int, int]]], separator: str) -> tuple[str, list[str]]:
    per_doc = []
    for d, source in enumerate(doc_texts):
        pieces = sorted(kept.get(d, []))
        per_doc.append(render_spans(source, pieces)[0] if pieces else "")
    return separator.join(t for t in per_doc if t), per_doc


def head_window(doc_texts: Sequence[str], counter: TokenCounter, word_boundary: bool = True) -> WindowFn:
    """The default window: the head of the unit that fits."""

    def window(doc: int, start: int, end: int, max_tokens: int) -> tuple[int, int]:
        head = prefix_within(doc_texts[doc][start:end], max_tokens, counter, word_boundary=word_boundary)
        return start, start + len(head)

    return window


def assemble(
    doc_texts: Sequence[str],
    units: Sequence[Unit],
    budget: int,
    counter: TokenCounter,
    separator: str = "\n\n",
    fill: bool = True,
    min_score: float | None = None,
    window: WindowFn | None = None,
    partial_share: float = 0.5,
) -> Assembly:
    """Keep the highest-scoring units within ``budget`` tokens, in source order (see the module docstring).

    Units scoring below ``min_score`` are never kept (a compressor's relevance cut-off); ties keep the earlier
    unit. ``fill`` spends what is left on whole units that still fit, then on a window of the best remaining one.
    """
    if budget < 0:
        raise BudgetError(f"budget must be >= 0, but got {budget}")
    if not 0.0 <= partial_share <= 1.0:
        raise ValueError(f"partial_share must be in [0, 1], but got {partial_share}")
    window = window or head_window(doc_texts, counter)
    missing = [u for u in units if u.tokens <= 0]
    if missing:
        counts = counter.count_many([" " + doc_texts[u.doc][u.start:u.end] for u in missing])
        for u, n in zip(missing, counts, strict=True):
            u.tokens = max(1, n)
    order = sorted(range(len(units)), key=lambda i: (-units[i].score, units[i].doc, units[i].start))
    eligible = [i for i in order if min_score is None or units[i].score >= min_score]
    sep_cost = max(1, counter.count(separator)) if separator else 0

    pieces: list[_Piece] = []  # in score order

    def state(extra: _Piece | None = None) -> tuple[str, list[str], int]:
        kept: dict[int, list[tuple[int, int]]] = {}
        for p in pieces + ([extra] if extra else []):
            kept.setdefault(units[p.unit].doc, []).append((p.start, p.end))
        text, per_doc = render(doc_texts, kept, separator)
        return text, per_doc, counter.count(text)

    def cut(i: int, room: int, word_boundary: bool = True) -> _Piece | None:
        u = units[i]
        if room <= 0:
            return None
        if word_boundary:
            s, e = window(u.doc, u.start, u.end, room)
        else:
            s, e = head_window(doc_texts, counter, word_boundary=False)(u.doc, u.start, u.end, room)
        if e <= s or not doc_texts[u.doc][s:e].strip():
            return None
        return _Piece(i, s, e, counter.count(doc_texts[u.doc][s:e]))

    used = 0
    docs_used: set[int] = set()
    for i in eligible:
        u = units[i]
        overhead = 1 + (sep_cost if docs_used and u.doc not in docs_used else 0)
        room = budget - used - overhead
        if u.tokens <= room:
            pieces.append(_Piece(i, u.start, u.end, u.tokens))
        elif room >= 3 and (room >= partial_share * u.tokens or not pieces):
            # The fine step: a unit worth keeping that does not fit whole keeps its best window. The best-ranked
            # unit always does, rather than yielding the room to weaker units that happen to be shorter.
            piece = cut(i, room)
            if piece is None:
                continue
            pieces.append(piece)
        else:
            continue
        used += pieces[-1].tokens + overhead
        docs_used.add(u.doc)

    text, per_doc, n = state()
    # Estimates are per unit; the joined text can differ by a few tokens. Trim the weakest piece until it fits.
    while n > budget and pieces:
        last = pieces.pop()
        smaller = cut(last.unit, last.tokens - (n - budget)) if last.tokens > n - budget else None
        if smaller is not None:
            pieces.append(smaller)
        text, per_doc, n = state()

    if fill and n < budget:
        taken = {p.unit for p in pieces}
        for i in eligible:  # whole units that still fit, best first
            if i in taken or units[i].tokens + 1 > budget - n:
                continue
            pieces.append(_Piece(i, units[i].start, units[i].end, units[i].tokens))
            t2, pd2, n2 = state()
            if n2 <= budget:
                text, per_doc, n = t2, pd2, n2
                taken.add(i)
            else:
                pieces.pop()
        # Then a window of the best unit not yet (wholly) kept; on word boundaries first, inside a word if
        # that is what it takes to use 95% of the budget.
        for word_boundary in (True, False):
            if n >= MIN_BUDGET_USE * budget and word_boundary is False:
                break
            for i in eligible:
                if n >= budget:
                    break
                current = next((p for p in pieces if p.unit == i), None)
                if current is not None and current.whole(units):
                    continue
                # Joined text can take fewer tokens than the piece alone (merges across the joint): start a
                # little above the room and let the real count decide.
                room = budget - n + (current.tokens if current else 0) + _CONTEXT_SLACK
                added = False
                while room > 0:
                    piece = cut(i, room, word_boundary)
                    if piece is None or (current is not None and piece.tokens <= current.tokens):
                        break
                    candidate_pieces = [p for p in pieces if p is not current]
                    saved, pieces[:] = list(pieces), candidate_pieces
                    t2, pd2, n2 = state(piece)
                    if n2 <= budget:
                        pieces.append(piece)
                        text, per_doc, n = t2, pd2, n2
                        added = True
                        break
                    pieces[:] = saved
                    room -= max(1, n2 - budget)
                if added and (word_boundary or n >= MIN_BUDGET_USE * budget):
                    break  # one window per pass (the best unit that could take one), more only to reach 95%

    doc_full = [False] * len(doc_texts)
    units_per_doc: dict[int, int] = {}
    for u in units:
        units_per_doc[u.doc] = units_per_doc.get(u.doc, 0) + 1
    whole_per_doc: dict[int, int] = {}
    for p in pieces:
        if p.whole(units):
            d = units[p.unit].doc
            whole_per_doc[d] = whole_per_doc.get(d, 0) + 1
    for d in range(len(doc_texts)):
        doc_full[d] = units_per_doc.get(d, 0) > 0 and whole_per_doc.get(d, 0) == units_per_doc[d]
    kept_units = sorted((units[p.unit].doc, p.start, p.end) for p in pieces)
    return Assembly(text=text, tokens=n, doc_texts=per_doc, doc_full=doc_full, kept_units=kept_units)
