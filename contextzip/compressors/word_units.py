"""Word units for token-level compression: words grouped into what is kept or dropped whole.

Words without whitespace between them stay together (numbers such as ``150,782``, ``U.S.``, ``Clark's``),
except punctuation at their edges; runs of names and numbers ("Wilhelm Conrad Röntgen", "May 18") join with
``keep_entities``; protected spans (code, URLs, e-mail addresses, JSON keys, quoted strings) are one unit each;
units matching ``force_tokens`` (or holding a digit, with ``force_digits``) are marked forced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contextzip.budget import Unit
from contextzip.lexicon import name_or_number_starts
from contextzip.scorers import WordProbabilities
from contextzip.segment import WHITESPACE_CODEPOINTS, codepoints, unspaced

__all__ = ["PROTECTED_PATTERNS", "Units", "build_units", "compile_patterns"]

_YEAR = re.compile(r"[12]\d{3}")

# Spans kept or dropped whole: fenced and inline code, URLs, e-mail addresses, JSON keys, quoted strings.
PROTECTED_PATTERNS: tuple[str, ...] = (
    r"```.*?(?:```|\Z)",
    r"`[^`\n]+`",
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"'\])}]+",
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    r"\"[^\"\n]{1,200}\"\s*:",
    r"\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”",
)


@dataclass(frozen=True)
class Units:
    """Keep/drop units of one document: character spans, the probability of each, and forced flags."""

    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    forced: np.ndarray

    def spans(self, doc: int) -> list[Unit]:
        """The units as budget-fitter spans of document ``doc``."""
        return [Unit(doc, s, e) for s, e in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]


def build_units(text: str, words: WordProbabilities, protected: Sequence[re.Pattern[str]],
                forced: Sequence[re.Pattern[str]], force_digits: bool, keep_entities: bool = True) -> Units:
    """Group words into units: whitespace-free runs (edge punctuation apart), names and numbers (runs of
    capitalised or numeric words, with ``keep_entities``) and protected spans."""
    n = len(words.starts)
    if n == 0:
        return Units(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
    starts, ends, punct = words.starts, words.ends, words.punct
    # Words split by whitespace are apart; words split by nothing, or by characters the tokenizer dropped
    # (unknown tokens), belong together.
    cp = codepoints(text)
    spaces = np.concatenate([[0], np.cumsum(np.isin(cp, WHITESPACE_CODEPOINTS))])  # whitespace before i
    gap = np.ones(n, dtype=bool)
    gap[1:] = spaces[starts[1:]] > spaces[ends[:-1]]
    # In scripts without spaces (Chinese, Japanese, Thai, emoji) every word of the tokenizer may stand alone.
    free = unspaced(cp)
    gap[1:] |= free[np.clip(starts[1:], 0, len(cp) - 1)] | free[np.clip(ends[:-1] - 1, 0, len(cp) - 1)]
    group = np.cumsum(gap) - 1
    idx = np.arange(n)
    big = n + 1
    first_word = np.minimum.reduceat(np.where(punct, big, idx), np.nonzero(gap)[0])
    last_word = np.maximum.reduceat(np.where(punct, -1, idx), np.nonzero(gap)[0])
    core = (idx >= first_word[group]) & (idx <= last_word[group])
    new = gap.copy()
    new[1:] |= ~(core[1:] & core[:-1])
    unit = np.cumsum(new) - 1
    if keep_entities:
        # Consecutive units that start with a capital or a digit ("Wilhelm Conrad Röntgen", "May 18") and are
        # not punctuation stay together; the unit then counts as much as its strongest word.
        firsts = np.nonzero(new)[0]
        unit_punct = np.minimum.reduceat(punct.astype(np.int8), firsts).astype(bool)
        entity = name_or_number_starts(cp[starts[firsts]]) & ~unit_punct
        join = np.zeros(len(firsts), dtype=bool)
        join[1:] = entity[1:] & entity[:-1]
        # A date's year after a comma ("November 25, 1949") stays with it, comma included.
        u_end = np.maximum.reduceat(ends, firsts)
        for k in np.nonzero(unit_punct[1:-1])[0] + 1:
            if (text[starts[firsts[k]]:u_end[k]] == "," and "0" <= text[u_end[k - 1] - 1] <= "9"
                    and _YEAR.fullmatch(text[starts[firsts[k + 1]]:u_end[k + 1]])):
                join[k] = join[k + 1] = True
        unit = (np.cumsum(~join) - 1)[unit]
    # Protected spans: every unit that overlaps one joins it.
    spans = sorted((m.start(), m.end()) for p in protected for m in p.finditer(text) if m.end() > m.start())
    if spans:
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        span_s = np.asarray([s for s, _ in merged])
        span_e = np.asarray([e for _, e in merged])
        k = np.searchsorted(span_s, ends, side="left") - 1  # last span starting before the word ends
        inside = (k >= 0) & (span_e[np.clip(k, 0, None)] > starts)
        same = np.zeros(n, dtype=bool)
        same[1:] = inside[1:] & inside[:-1] & (k[1:] == k[:-1])
        # A new unit starts where the unit changes, unless both words lie in the same protected span; a unit
        # that straddles a span's edge therefore joins the span.
        unit_new = np.ones(n, dtype=bool)
        unit_new[1:] = (unit[1:] != unit[:-1]) & ~same[1:]
        unit = np.cumsum(unit_new) - 1
    n_units = int(unit[-1]) + 1
    firsts = np.nonzero(np.r_[True, unit[1:] != unit[:-1]])[0]
    u_starts = starts[firsts]
    u_ends = np.maximum.reduceat(ends, firsts)
    if spans:
        # A protected unit covers its whole span, characters the tokenizer dropped included.
        lasts = np.r_[firsts[1:] - 1, n - 1]
        head = inside[firsts]
        u_starts[head] = np.minimum(u_starts[head], span_s[k[firsts][head]])
        tail = inside[lasts]
        u_ends[tail] = np.maximum(u_ends[tail], span_e[k[lasts][tail]])
    u_probs = np.maximum.reduceat(words.probs, firsts)
    if spans:  # a protected span counts as the mean of its words, not its strongest one
        mean = np.bincount(unit, weights=words.probs, minlength=n_units) / np.bincount(unit, minlength=n_units)
        u_probs = np.where(inside[firsts], mean, u_probs)
    u_forced = np.zeros(n_units, dtype=bool)
    if forced or force_digits:
        for i in range(n_units):  # per unit, only when forcing is asked for
            piece = text[u_starts[i]:u_ends[i]]
            if (force_digits and any(ch.isdigit() for ch in piece)) or any(p.search(piece) for p in forced):
                u_forced[i] = True
    return Units(u_starts, u_ends, u_probs, u_forced)


def compile_patterns(patterns: Sequence[str | re.Pattern[str]], what: str) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            out.append(p)
        elif isinstance(p, str) and p:
            out.append(re.compile(p, re.DOTALL))
        else:
            raise ValueError(f"{what} must be non-empty str or compiled patterns, but got {p!r}")
    return out
