"""Clauses: where a sentence too long to keep whole may be cut, so kept pieces stay readable.

A sentence-level compressor that must shorten a sentence keeps a run of whole *clauses* (never a window of words
cut anywhere): a clause ends at a comma, semicolon or colon followed by a space, at a dash between spaces, or
around a parenthesis. A comma inside a number ("150,782") or a date ("November 25, 1949") is no boundary, so a
cut never ends inside a number, a date or a name.

* :func:`split_clauses` segments a text into clause spans;
* :func:`split_phrases` cuts each clause further, before a preposition, conjunction or relative word;
* :func:`clause_window` is the run of whole clauses (or phrases) that best answers a query within a token budget
  (the query-guided window, weighted word by word as :func:`contextzip.relevance.word_weights`);
* :func:`head_clauses` is the longest head of whole clauses that fits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from contextzip.segment import Span, split_words
from contextzip.tokens import TokenCounter

__all__ = ["best_run", "clause_window", "head_clauses", "split_clauses", "split_phrases"]

# A boundary after ", ; :" + space (not "25, 1949": a digit on both sides), around " - " dashes, before "(" and
# after ")" + space.
_BOUNDARY = re.compile(r"(?<!\d)[,;:](?=\s)|(?<=\d)[;:](?=\s)|(?<=\d),(?=\s+[^\d\s])|\s[–—-]\s|\s(?=\()|\)(?=\s)")


def split_clauses(text: str) -> list[Span]:
    """Clause spans of ``text`` (whitespace stripped; together they cover every non-space character)."""
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end() if text[m.start()] in ",;:)" else m.start()
        _add(text, start, end, spans)
        start = end
    _add(text, start, len(text), spans)
    return spans


# Words a phrase may start with: prepositions, conjunctions, relative words. A cut before one of them leaves
# "was first lit | in 1901" rather than "was first lit in | 1901".
_PHRASE_STARTS = frozenset("""about after against along among and around as at because before behind between but by
    during for from in including into like near of on or over since than that through to toward towards under
    until when where whereas which while who whom whose with within without""".split())


def split_phrases(text: str) -> list[Span]:
    """Finer than clauses: each clause is also cut before a preposition, conjunction or relative word, except
    inside a name ("Bank of America") or right at a clause start. Pieces of these never end inside a number or
    a name either."""
    out: list[Span] = []
    for clause in split_clauses(text):
        words = split_words(clause.text)
        start = 0
        for k in range(1, len(words)):
            w = words[k].text.lower().strip("\"'“”‘’(")
            if w not in _PHRASE_STARTS or k - 1 < 0:
                continue
            prev, nxt = words[k - 1].text, words[k + 1].text if k + 1 < len(words) else ""
            if prev[:1].isupper() and nxt[:1].isupper() and k > 1:  # "Bank of America", "Gone with the Wind"
                continue
            _add(text, clause.start + start, clause.start + words[k].start, out)
            start = words[k].start
        _add(text, clause.start + start, clause.end, out)
    return out


def _add(text: str, start: int, end: int, spans: list[Span]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        s = start + (len(piece) - len(piece.lstrip()))
        spans.append(Span(s, s + len(stripped), stripped, "clause"))


def best_run(text: str, spans: Sequence[Span], weights: np.ndarray, max_tokens: int,
              counter: TokenCounter) -> tuple[int, int]:
    """The contiguous run of ``spans`` with the largest total weight whose text fits ``max_tokens``."""
    costs = counter.count_many([" " + s.text for s in spans])
    best, best_span = -1.0, (0, -1)
    lo, total_w, total_c = 0, 0.0, 0
    for hi in range(len(spans)):
        total_w += weights[hi]
        total_c += costs[hi]
        while total_c > max_tokens and lo <= hi:
            total_w -= weights[lo]
            total_c -= costs[lo]
            lo += 1
        if lo <= hi and total_w > best:
            best, best_span = total_w, (lo, hi)
    lo, hi = best_span
    # Per-span counts approximate the joined count: shrink from the lighter end until it provably fits.
    while lo <= hi and counter.count(text[spans[lo].start:spans[hi].end]) > max_tokens:
        if weights[lo] <= weights[hi]:
            lo += 1
        else:
            hi -= 1
    if hi < lo:
        return 0, 0
    return spans[lo].start, spans[hi].end


def clause_window(text: str, query: str | None, max_tokens: int, counter: TokenCounter, *,
                  phrases: bool = False) -> tuple[int, int]:
    """The run of whole clauses of ``text`` (``phrases=True``: of whole phrases, :func:`split_phrases`) that best
    answers ``query`` within ``max_tokens``; each piece weighs the sum of its words' weights. Returns character
    offsets; (0, 0) when none fits."""
    from contextzip.relevance import word_weights

    clauses = split_phrases(text) if phrases else split_clauses(text)
    if not clauses or max_tokens <= 0:
        return 0, 0
    words = split_words(text)
    weights = word_weights(words, query)
    starts = np.asarray([w.start for w in words], dtype=np.int64)
    which = np.searchsorted(np.asarray([c.start for c in clauses]), starts, side="right") - 1
    clause_weights = np.bincount(np.clip(which, 0, None), weights=weights, minlength=len(clauses))
    return best_run(text, clauses, clause_weights, max_tokens, counter)


def head_clauses(text: str, max_tokens: int, counter: TokenCounter) -> tuple[int, int]:
    """The longest head of whole clauses of ``text`` that fits ``max_tokens``; (0, 0) when none does."""
    clauses = split_clauses(text)
    if not clauses or max_tokens <= 0:
        return 0, 0
    lo, hi = 0, len(clauses)
    while lo < hi:  # the most clauses whose head fits
        mid = (lo + hi + 1) // 2
        if counter.count(text[clauses[0].start:clauses[mid - 1].end]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return (clauses[0].start, clauses[lo - 1].end) if lo else (0, 0)
