"""Budgets: validating ``target_tokens`` / ``rate``, and the one budget fitter every extractive compressor uses.

A compressor scores *units* (sentences, words, phrases: character spans of its documents) and hands them to
:func:`fit_budget`, which decides what to keep:

1. units are ranked: forced units first, then by score (ties keep the earlier unit); units under
   ``min_score`` are never kept;
2. the largest prefix of the ranking whose rendered text fits is found by bisection on the real token count;
3. the rest of the ranking is walked once: a unit that still fits whole is added; with a ``window`` function,
   a unit that does not fit keeps its best window when at least ``partial_share`` of it can stay (the best
   unit always can);
4. with a ``window`` function, leftover budget goes to a window of the best unit not kept whole (cut inside a
   word, to use 95% of the budget, only with ``cut_inside_words=True``; with ``fill_new_documents=False``, only
   of a document already in the output);
5. when no unit fits whole (one longer than the budget: a run of text without spaces), the best unit's head is
   kept, ending at a word boundary (at a token boundary when not even its first word fits), unless
   ``head_fallback=False``: then nothing is kept, and ``Fit.reason`` says why.

Every count is of the rendered text (:mod:`contextzip.render`, with the elision marker when one is given) with the
real token counter, so the output never exceeds the budget. It uses at least 95% of it, or the next whole unit
(or window) would not fit: then ``Fit.reason`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from contextzip.errors import BudgetError
from contextzip.render import render_documents
from contextzip.tokens import TokenCounter, prefix_within
from contextzip.types import DocumentSpan, KeptSpan

MIN_BUDGET_USE = 0.95

# (document index, start, end, max_tokens) -> (start, end) of the window to keep, inside [start, end).
WindowFn = Callable[[int, int, int, int], tuple[int, int]]

__all__ = ["MIN_BUDGET_USE", "Fit", "Unit", "WindowFn", "fit_budget", "head_window", "per_item", "resolve_budget",
           "resolve_budgets", "top_within"]


def resolve_budget(original_tokens: int, target_tokens: int | None, rate: float | None) -> int:
    """Exactly one of ``target_tokens`` (> 0) and ``rate`` (in (0, 1]) sets the token budget."""
    if (target_tokens is None) == (rate is None):
        raise ValueError(
            "Give exactly one of target_tokens or rate, but got "
            f"target_tokens={target_tokens!r} and rate={rate!r}"
        )
    if target_tokens is not None:
        if isinstance(target_tokens, bool) or not isinstance(target_tokens, Integral):
            raise TypeError(f"target_tokens must be an int, but got {type(target_tokens).__name__}")
        if target_tokens <= 0:
            raise ValueError(f"target_tokens must be > 0, but got {target_tokens}")
        return int(target_tokens)
    if isinstance(rate, bool) or not isinstance(rate, Real):
        raise TypeError(f"rate must be a float, but got {type(rate).__name__}")
    if math.isnan(rate) or not (0.0 < float(rate) <= 1.0):
        raise ValueError(f"rate must be in (0, 1], but got {rate}")
    return max(1, int(math.floor(float(rate) * original_tokens)))


def per_item(value: Any, n: int, name: str) -> list[Any]:
    """One value per item: a sequence (or array) as given, its length checked, else the one value repeated."""
    if value is None or isinstance(value, (Real, bool)) or not isinstance(value, (Sequence, np.ndarray)):
        return [value] * n
    if isinstance(value, str):
        raise TypeError(f"{name} must be a number or a sequence of numbers, but got str")
    values = list(value)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} items: give one per item, or one for all")
    return values


def resolve_budgets(original_tokens: Sequence[int], target_tokens: Any, rate: Any) -> list[int]:
    """Budgets for many items: ``target_tokens`` / ``rate`` may each be one value for all items or a sequence
    with one per item (``None`` entries allowed where the other gives a value)."""
    n = len(original_tokens)
    targets = per_item(target_tokens, n, "target_tokens")
    rates = per_item(rate, n, "rate")
    return [resolve_budget(o, t, r) for o, t, r in zip(original_tokens, targets, rates, strict=True)]


Unit = DocumentSpan  # an extractive unit: ``doc_texts[doc][start:end]``


@dataclass(frozen=True)
class Fit:
    """What :func:`fit_budget` kept: the rendered text, its real token count, each document's text, whether
    each document was kept whole, the kept spans and the score of the weakest unit in the kept prefix."""

    text: str
    tokens: int
    doc_texts: list[str]
    doc_full: list[bool]
    kept: tuple[KeptSpan, ...]
    threshold: float | None
    reason: str | None = None


def top_within(costs: Sequence[int], scores: np.ndarray, limit: int, min_score: float | None = None) -> list[int]:
    """A soft pre-selection (coarse-to-fine's coarse step): the best units, by score, whose estimated ``costs``
    add up to at most ``limit``, in their original order. The budget itself is always :func:`fit_budget`'s."""
    score = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(score)), -score))
    chosen, used = [], 0
    for k in order.tolist():
        if min_score is not None and score[k] < min_score:
            continue
        if used + costs[k] <= limit:
            chosen.append(k)
            used += costs[k]
    if not chosen and limit > 0:  # every unit is longer than the limit: the best one, for the exact fitter to cut
        chosen = [int(k) for k in order[:1] if min_score is None or score[k] >= min_score]
    return sorted(chosen)


def head_window(doc_texts: Sequence[str], counter: TokenCounter, word_boundary: bool = True) -> WindowFn:
    """A window function that keeps the head of a unit."""

    def window(doc: int, start: int, end: int, max_tokens: int) -> tuple[int, int]:
        head = prefix_within(doc_texts[doc][start:end], max_tokens, counter, word_boundary=word_boundary)
        return start, start + len(head)

    return window


_CONTEXT_SLACK = 2  # tokens a joined piece may save against its own count


class _Fitter:
    """The state of one :func:`fit_budget` call: pieces kept so far (unit, start, end) and their rendering."""

    def __init__(self, doc_texts: Sequence[str], units: Sequence[Unit], budget: int, counter: TokenCounter,
                 separator: str, doc_order: Sequence[int] | None, elision: str | None = None,
                 mark_cut_ends: bool = False) -> None:
        self.doc_texts, self.units, self.budget = doc_texts, units, budget
        self.mark_cut_ends = mark_cut_ends
        self.counter, self.separator, self.doc_order, self.elision = counter, separator, doc_order, elision
        self.pieces: list[tuple[int, int, int]] = []
        self.text, self.per_doc, self.n = "", [""] * len(doc_texts), 0
        self.skipped_new_documents = False  # step 4 passed over windows of documents not in the output

    def render(self, pieces: Sequence[tuple[int, int, int]]) -> tuple[str, list[str], int]:
        kept: dict[int, list[tuple[int, int]]] = {}
        for i, s, e in pieces:
            kept.setdefault(self.units[i].doc, []).append((s, e))
        open_ends = None
        if self.mark_cut_ends and self.elision:
            first: dict[int, tuple[int, int, int]] = {}
            last: dict[int, tuple[int, int, int]] = {}
            for p in pieces:
                d = self.units[p[0]].doc
                first[d] = min(first.get(d, p), p, key=lambda q: q[1])
                last[d] = max(last.get(d, p), p, key=lambda q: q[2])
            open_ends = {d: (first[d][1] != self.units[first[d][0]].start, last[d][2] != self.units[last[d][0]].end)
                         for d in first}
        text, per_doc = render_documents(self.doc_texts, kept, self.separator, self.doc_order, self.elision,
                                         open_ends)
        return text, per_doc, self.counter.count(text)

    def accept(self, pieces: list[tuple[int, int, int]], rendered: tuple[str, list[str], int]) -> None:
        self.pieces = pieces
        self.text, self.per_doc, self.n = rendered

    def try_add(self, piece: tuple[int, int, int], replace: tuple[int, int, int] | None = None) -> int:
        """Add ``piece`` (instead of ``replace``) if the result fits; returns the count of the trial."""
        trial = [p for p in self.pieces if p is not replace] + [piece]
        rendered = self.render(trial)
        if rendered[2] <= self.budget:
            self.accept(trial, rendered)
        return rendered[2]

    def try_window(self, i: int, window: WindowFn, room: int,
                   current: tuple[int, int, int] | None = None) -> bool:
        """Keep the largest window of unit ``i`` that fits (replacing its ``current`` piece when larger)."""
        u = self.units[i]
        room += _CONTEXT_SLACK
        while room > 0:
            s, e = window(u.doc, u.start, u.end, room)
            if e <= s or not self.doc_texts[u.doc][s:e].strip():
                return False
            if current is not None and e - s <= current[2] - current[1]:
                return False
            n = self.try_add((i, s, e), current)
            if n <= self.budget:
                return True
            if room == 1:
                return False
            room = max(1, room - max(1, n - self.budget))  # never jump past the one-token window
        return False


def fit_budget(
    doc_texts: Sequence[str],
    units: Sequence[Unit],
    scores: Sequence[float] | np.ndarray,
    budget: int,
    counter: TokenCounter,
    separator: str = "\n\n",
    *,
    window: WindowFn | None = None,
    partial_share: float = 0.5,
    min_score: float | None = None,
    forced: Sequence[bool] | np.ndarray | None = None,
    doc_order: Sequence[int] | None = None,
    elision: str | None = None,
    cut_inside_words: bool = False,
    max_fill_tries: int = 64,
    head_fallback: bool = True,
    fill_new_documents: bool = True,
    mark_cut_ends: bool = False,
) -> Fit:
    """Keep the best units within ``budget`` tokens (see the module docstring).

    Args:
        doc_texts: the documents' texts.
        units: the candidate spans; ``scores`` has one score per unit.
        window: how to cut a unit that does not fit whole (``None``: units are kept whole or not at all).
        partial_share: a unit that does not fit keeps a window only when this share of it can stay.
        min_score: units scoring below it are never kept (a relevance cut-off); forced units always may be.
        forced: units ranked before all others (``force_tokens``, names the caller must keep).
        doc_order: the order documents appear in the output (input order by default).
        elision: the marker rendered between kept pieces that are apart in a document (counted in the budget).
        cut_inside_words: with a ``window``, cut a unit's head inside a word when that is what it takes to use
            95% of the budget (off: pieces end at the window's own boundaries).
        max_fill_tries: the most trial renderings that fail to fit, spent filling after the prefix.
        head_fallback: when nothing fits whole or as a window, keep the best unit's head, cut at a word
            boundary where one fits (step 5); ``False`` keeps nothing rather than a piece the window would not cut.
        fill_new_documents: step 4 may take its windows from a document nothing else was kept of (``False``: only
            from documents already in the output, so no document is reduced to a leftover fragment).
        mark_cut_ends: with an ``elision`` marker, a document's first piece that starts inside its unit opens with
            the marker, and its last piece that ends inside its unit closes with it (counted in the budget).
    """
    if budget < 0:
        raise BudgetError(f"budget must be >= 0, but got {budget}")
    if not 0.0 <= partial_share <= 1.0:
        raise ValueError(f"partial_share must be in [0, 1], but got {partial_share}")
    score = np.asarray(scores, dtype=np.float64)
    if len(score) != len(units):
        raise ValueError(f"got {len(score)} scores for {len(units)} units")
    force = np.zeros(len(units), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    position = np.asarray([(u.doc, u.start) for u in units], dtype=np.int64).reshape(-1, 2)
    order = np.lexsort((position[:, 1], position[:, 0], -score, ~force)) if len(units) else np.zeros(0, int)
    if min_score is not None:
        order = order[force[order] | (score[order] >= min_score)]
    eligible: list[int] = order.tolist()
    state = _Fitter(doc_texts, units, budget, counter, separator, doc_order, elision, mark_cut_ends)
    if not eligible or budget == 0:
        return _result(state, units, score, None)
    costs = np.maximum(1, np.asarray(counter.count_many(
        [" " + doc_texts[units[i].doc][units[i].start:units[i].end] for i in eligible]), dtype=np.int64))

    # 2. The largest prefix of the ranking that fits.
    lo, hi = 0, min(len(eligible), int(np.searchsorted(np.cumsum(costs), budget, side="right")) + 8)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        trial = [(i, units[i].start, units[i].end) for i in eligible[:mid]]
        rendered = state.render(trial)
        if rendered[2] <= budget:
            lo = mid
            state.accept(trial, rendered)
        else:
            hi = mid - 1
    threshold = float(score[eligible[lo - 1]]) if lo else None

    # 3. One walk down the rest of the ranking: whole units that fit, windows of units worth cutting.
    tries = 0
    for k in range(lo, len(eligible)):
        room = budget - state.n
        if room <= 0 or tries >= max_fill_tries:
            break
        i = eligible[k]
        if costs[k] <= room + _CONTEXT_SLACK:
            if state.try_add((i, units[i].start, units[i].end)) <= budget:
                continue  # a unit kept costs no try: many small units (Chinese characters) can all fill
            tries += 1
        if window is not None and room >= 3 and (room >= partial_share * costs[k] or not state.pieces):
            tries += 1
            state.try_window(i, window, room)

    # 4. Leftover budget: a window of the best unit not kept whole; inside a word only to reach 95%.
    if window is not None and state.n < budget:
        char_window = head_window(doc_texts, counter, word_boundary=False)
        for fn in (window, char_window) if cut_inside_words else (window,):
            if fn is char_window and state.n >= MIN_BUDGET_USE * budget:
                break
            for i in eligible:
                if state.n >= budget:
                    break
                current = next((p for p in state.pieces if p[0] == i), None)
                u = units[i]
                if not fill_new_documents and state.pieces and all(units[p[0]].doc != u.doc for p in state.pieces):
                    state.skipped_new_documents = True
                    continue  # no document reduced to a leftover fragment
                if current is not None and (current[1], current[2]) == (u.start, u.end):
                    continue
                room = budget - state.n + (counter.count(doc_texts[u.doc][current[1]:current[2]]) if current else 0)
                if state.try_window(i, fn, room, current) and state.n >= MIN_BUDGET_USE * budget:
                    break  # windows of the best units that can take one, until 95% of the budget is used
    # 5. Nothing fits whole (a unit longer than the budget, such as text without spaces): the best unit's head,
    #    ending at a word boundary, or at a token boundary when not one whole word fits.
    if not state.pieces and budget > 0 and head_fallback:
        state.try_window(eligible[0], head_window(doc_texts, counter, word_boundary=True), budget)
    return _result(state, units, score, threshold)


def _result(state: _Fitter, units: Sequence[Unit], score: np.ndarray, threshold: float | None) -> Fit:
    reason = None
    whole_kept = sum((s, e) == (units[i].start, units[i].end) for i, s, e in state.pieces)
    if state.n < MIN_BUDGET_USE * state.budget and whole_kept < len(units):
        reason = (f"{state.n} of {state.budget} tokens used: the next whole unit (or the best window of one) "
                  "would not fit in what is left")
        if state.skipped_new_documents:
            reason += ", and leftover budget is not filled with fragments of documents not otherwise kept"
    n_docs = len(state.doc_texts)
    units_per_doc = np.bincount([u.doc for u in units], minlength=n_docs) if units else np.zeros(n_docs, int)
    whole = [units[i].doc for i, s, e in state.pieces if (s, e) == (units[i].start, units[i].end)]
    whole_per_doc = np.bincount(whole, minlength=n_docs) if whole else np.zeros(n_docs, int)
    doc_full = [bool(units_per_doc[d] > 0 and whole_per_doc[d] == units_per_doc[d]) for d in range(n_docs)]
    kept = tuple(KeptSpan(units[i].doc, s, e) for i, s, e in sorted(state.pieces, key=lambda p: (units[p[0]].doc, p[1])))
    return Fit(text=state.text, tokens=state.n, doc_texts=state.per_doc, doc_full=doc_full, kept=kept,
               threshold=threshold, reason=reason)
