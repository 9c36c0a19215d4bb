"""The one lexicon every compressor shares: stop words, terms, answer types, names and numbers, proximity.

Each idea has one definition here, so the sentence, word and phrase compressors agree on what a name, a number
or a question's answer type is:

* :data:`STOPWORDS` and :func:`lexical_terms` (query terms for BM25, coverage and proximity);
* :func:`answer_type`: the kind of answer a wh-question asks for ("date", "number", "person", "name");
* names and numbers: :func:`is_name_or_number` for a word, :func:`name_or_number_starts` for many first
  characters at once (a vectorised lookup), :func:`names_in` for the capitalised names inside a text;
* :func:`query_term_pattern` and :func:`proximity` (answers sit next to the words the question names).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "STOPWORDS",
    "answer_type",
    "has_answer_type",
    "is_name_or_number",
    "lexical_terms",
    "name_or_number_starts",
    "names_in",
    "proximity",
    "query_term_pattern",
]

_WORD = re.compile(r"\w+", re.UNICODE)

# A small English stop list: function words carry no relevance signal for BM25 over a handful of passages.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves also did does many much""".split()
)


def lexical_terms(text: str) -> list[str]:
    """Lower-cased word terms without stop words, with a light plural fold ("films" -> "film")."""
    terms = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        terms.append(w)
    return terms


# --- answer types ------------------------------------------------------------------------------------------

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_ANSWER_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(r"^\s*(when|what (year|date|day|month|time|century|decade)|which (year|date|day|month)|"
                        r"in what (year|month)|how long ago)\b", re.I)),
    ("number", re.compile(r"^\s*(how (many|much|long|old|far|big|tall|high|large|fast|often)|"
                          r"what (number|percentage|amount|age|population|size)|what is the (number|population|"
                          r"age|height|length|size|amount|percentage))\b", re.I)),
    ("person", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
    ("name", re.compile(r"^\s*(where|which (person|city|country|team|company|band|actor|"
                        r"actress|player|state|university))\b", re.I)),
]
_TYPE_PATTERNS = {
    "date": re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}}|{_MONTHS})\b|\b\d{{1,2}}(st|nd|rd|th)?\s+century\b", re.I),
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|"
                         r"million|billion|dozen)\b", re.I),
}
NUMERIC_TYPES = frozenset({"date", "number"})
NAME_TYPES = frozenset({"person", "name"})


def answer_type(query: str | None) -> str | None:
    """The kind of answer a wh-question asks for: "date", "number", "person" (who / whom / whose), "name"
    (where, which city / team / ...) or ``None`` (unknown)."""
    if not query:
        return None
    for name, pattern in _ANSWER_TYPES:
        if pattern.search(query):
            return name
    return None


def type_pattern(kind: str | None) -> re.Pattern[str] | None:
    """The pattern of a "date" or "number" answer (a year or month, a digit or number word); else ``None``."""
    return _TYPE_PATTERNS.get(kind) if kind else None


def has_answer_type(text: str, kind: str | None, query_terms: set[str] | None = None) -> bool:
    """Whether ``text`` holds an answer of ``kind``: a year or month, a number, or a name not in the query."""
    if kind is None:
        return False
    pattern = type_pattern(kind)
    if pattern is not None:
        return pattern.search(text) is not None
    q = query_terms or set()
    return any(not set(lexical_terms(name)) <= q for name in names_in(text))


# --- names and numbers -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _start_table() -> np.ndarray:
    """Per code point of the Basic Multilingual Plane: an upper-case letter or an ASCII digit."""
    table = np.fromiter((chr(c).isupper() for c in range(0x10000)), dtype=bool, count=0x10000)
    table[48:58] = True
    return table


def name_or_number_starts(codepoints: np.ndarray) -> np.ndarray:
    """Vectorised: whether each code point can start a name (an upper-case letter) or a number (a digit)."""
    cp = np.asarray(codepoints, dtype=np.int64)
    table = _start_table()
    return np.where(cp < len(table), table[np.clip(cp, 0, len(table) - 1)], False)


def is_name_or_number(word: str) -> bool:
    """A word whose first letter or digit is upper-case or a digit: "Röntgen", "1901", "(NATO", "U.S."."""
    for ch in word:
        if ch.isalnum():
            return ch.isupper() or "0" <= ch <= "9"
    return False


_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[^\W\d_][\w'-]+")


def names_in(text: str) -> Iterator[str]:
    """Capitalised words of ``text`` that do not open a sentence (the names a passage mentions)."""
    for m in _CAPITALISED.finditer(text):
        word = m.group()
        if word[0].isupper() and lexical_terms(word):
            yield word


# --- query terms and proximity -----------------------------------------------------------------------------


def query_term_pattern(query: str) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive matches of the query's content terms (a plural fold either way)."""
    terms = sorted(set(lexical_terms(query)), key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")s?\b", re.IGNORECASE)


PROXIMITY_SCALE = 4.0  # words: a proximity boost falls to 1/e this far from a question term


def proximity(n_words: int, hits: Sequence[int] | np.ndarray, scale: float = PROXIMITY_SCALE) -> np.ndarray:
    """``exp(-distance / scale)`` from each of ``n_words`` positions to the nearest hit; zeros without hits."""
    hits = np.unique(np.asarray(hits, dtype=np.int64))
    if n_words == 0 or len(hits) == 0:
        return np.zeros(n_words)
    pos = np.arange(n_words)
    k = np.clip(np.searchsorted(hits, pos), 1, len(hits)) - 1
    nearest = np.minimum(np.abs(pos - hits[k]), np.abs(pos - hits[np.clip(k + 1, 0, len(hits) - 1)]))
    return np.exp(-nearest / scale)
