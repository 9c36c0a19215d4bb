"""How query-guided compression cuts a sentence too long to keep whole: its best run of whole clauses, phrases or
words for the question (a :data:`~contextzip.budget.WindowFn` for the budget fitter), by ``windows`` mode."""

from __future__ import annotations

from typing import Any

from contextzip.budget import WindowFn
from contextzip.clauses import clause_window
from contextzip.relevance import query_window
from contextzip.types import CompressionRequest

__all__ = ["CLAUSE_BUDGET", "query_auto_windows", "query_clause_windows", "query_windows", "query_word_windows",
           "whole_clauses"]

# windows="auto": whole clauses for a budget of at least this many tokens, phrases under it. Chosen on the tune
# splits (docs/sections/readable_output.md): under ~150 tokens often no whole clause holding the answer fits, and
# phrases keep more answers (NQ tune: 46 more of 829 requests under 100 tokens; HotpotQA tune: 2 more of 37 at
# 125-149 tokens); from 150 tokens on, clauses and phrases kept the same answers in every request.
CLAUSE_BUDGET = 150


def query_windows(request: CompressionRequest) -> WindowFn:
    """How query-guided compression cuts a sentence too long to keep whole under ``windows="phrases"`` (and
    ``"auto"`` at budgets under :data:`CLAUSE_BUDGET`): its best run of whole phrases for the question (clauses,
    cut further before a preposition, conjunction or relative word: :func:`contextzip.clauses.split_phrases`), so
    no piece ends inside a number or a name."""
    return _windows(request, lambda *args: clause_window(*args, phrases=True))


def query_clause_windows(request: CompressionRequest) -> WindowFn:
    """The strict alternative (``windows="clauses"``): the best run of whole clauses only (pieces end at ", ; :",
    a dash or a parenthesis: :func:`contextzip.clauses.split_clauses`). It reads best and keeps less at tight
    budgets, where often no whole clause fits: 629 of 1,300 NQ answers at rate 0.25 against 734 with phrases
    (HotpotQA: 223 of 252 both)."""
    return _windows(request, clause_window)


def query_auto_windows(request: CompressionRequest) -> WindowFn:
    """The default (``windows="auto"``): :func:`query_clause_windows` when the request's budget is at least
    :data:`CLAUSE_BUDGET` tokens, :func:`query_windows` (phrases) under it."""
    return query_clause_windows(request) if whole_clauses("auto", request) else query_windows(request)


def whole_clauses(windows: str, request: CompressionRequest) -> bool:
    """Whether ``windows`` keeps whole clauses only for this request."""
    return windows == "clauses" or windows == "auto" and request.budget >= CLAUSE_BUDGET


def query_word_windows(request: CompressionRequest) -> WindowFn:
    """The word-level alternative (``windows="words"``): the best run of whole words for the question (see
    :func:`contextzip.relevance.query_window`); fills the budget more tightly, reads less well."""
    return _windows(request, query_window)


def _windows(request: CompressionRequest, best: Any) -> WindowFn:
    texts, counter, query = request.texts, request.counter, request.query

    def window(doc: int, start: int, end: int, max_tokens: int) -> tuple[int, int]:
        s, e = best(texts[doc][start:end], query, max_tokens, counter)
        return start + s, start + e

    return window
