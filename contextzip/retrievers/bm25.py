"""Lexical BM25 retrieval on bm25s (sparse score matrices): the baseline that catches exact names and numbers."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from contextzip.compressors.base import DocumentsInput
from contextzip.errors import missing_dependency
from contextzip.retrievers.base import (
    BaseRetriever,
    MetadataFilter,
    SearchHit,
    ids_of,
    matches,
    read_config,
    read_documents,
    with_ids,
    write_config,
    write_documents,
)
from contextzip.types import Document

logger = logging.getLogger(__name__)


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise missing_dependency("bm25s", "retrieval") from exc
    return bm25s


def _stemmer(language: str | None) -> Callable[[list[str]], list[str]] | None:
    if language is None:
        return None
    try:
        import Stemmer
    except ImportError as exc:
        raise missing_dependency("PyStemmer", "retrieval") from exc
    try:
        return Stemmer.Stemmer(language).stemWords
    except KeyError as exc:
        raise ValueError(f"stemmer must be None or a Snowball language such as 'english', but got {language!r}") from exc


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over bm25s's sparse, precomputed score matrix (fast to index, fast to query, saves to disk).

    Args:
        stemmer: a Snowball language for PyStemmer ("english", the default) or ``None`` for no stemming.
        stopwords: "en" (bm25s's English list, the default), a list of words, or ``None`` to keep every word.
        k1 / b: the BM25 parameters; method: bm25s's variant ("lucene", the default, "robertson", "atire",
            "bm25l", "bm25+").

    bm25s builds an immutable index, so :meth:`add`, :meth:`update` and :meth:`delete` mark it stale and the
    next search re-indexes every document (about a second per 100k short documents on one core).

    Example:
        >>> bm25 = BM25Retriever()
        >>> bm25.add(["The Eiffel Tower is 330 m tall.", "Bananas are yellow."])
        ['0', '1']
        >>> bm25.search("How tall is the Eiffel tower?", k=1)[0].document.id
        '0'
    """

    def __init__(self, *, stemmer: str | None = "english", stopwords: str | Sequence[str] | None = "en",
                 k1: float = 1.5, b: float = 0.75, method: str = "lucene") -> None:
        if stopwords is not None and not isinstance(stopwords, (str, Sequence)):
            raise TypeError(f"stopwords must be 'en', a list of words or None, but got {type(stopwords).__name__}")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"k1 must be >= 0 and b in [0, 1], but got k1={k1}, b={b}")
        self.stemmer = stemmer
        self.stopwords = stopwords if isinstance(stopwords, str) or stopwords is None else list(stopwords)
        self.k1, self.b, self.method = k1, b, method
        self._stem = _stemmer(stemmer)
        self._docs: dict[str, Document] = {}
        self._model: Any = None
        self._order: list[str] = []  # the document id of each bm25s row

    def __len__(self) -> int:
        return len(self._docs)

    def __repr__(self) -> str:
        return f"BM25Retriever(stemmer={self.stemmer!r}, k1={self.k1}, b={self.b}, documents={len(self)})"

    @property
    def documents(self) -> list[Document]:
        return list(self._docs.values())

    def get(self, doc_id: str) -> Document | None:
        return self._docs.get(str(doc_id))

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self._docs

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Lower-cased word tokens, stop words removed and stemmed as configured (corpus and queries alike)."""
        stop = self.stopwords if self.stopwords is not None else []
        return _bm25s().tokenize(list(texts), stopwords=stop, stemmer=self._stem, return_ids=False,
                                 show_progress=False, allow_empty=False)

    # --- writing --------------------------------------------------------------------------------------------

    def add(self, documents: DocumentsInput) -> list[str]:
        """Index documents (str, Document or {"text", "id", "metadata"}); returns their ids."""
        docs = with_ids(documents, self._docs.__contains__, len(self._docs))
        clash = [d.id for d in docs if d.id in self._docs]
        if clash:
            raise ValueError(f"document ids already indexed: {clash[:5]!r}; use update() to replace them")
        self._docs.update((d.id, d) for d in docs)  # type: ignore[misc]
        self._model = None
        return [d.id for d in docs]  # type: ignore[misc]

    def update(self, documents: DocumentsInput) -> list[str]:
        """Replace indexed documents, matched by id; every id must be indexed."""
        docs = with_ids(documents, lambda _: False, 0)
        missing = [d.id for d in docs if d.id not in self._docs]
        if missing:
            raise ValueError(f"document ids not in the index: {missing[:5]!r}; use add() for new documents")
        self._docs.update((d.id, d) for d in docs)  # type: ignore[misc]
        self._model = None
        return [d.id for d in docs]  # type: ignore[misc]

    def delete(self, ids: str | Iterable[str]) -> int:
        """Remove the documents with these ids; returns how many were indexed."""
        removed = [self._docs.pop(i) for i in ids_of(ids) if i in self._docs]
        if removed:
            self._model = None
        return len(removed)

    def warm_up(self) -> None:
        """Build the bm25s index now (otherwise the first search after a change does)."""
        if self._model is not None or not self._docs:
            return
        bm25s = _bm25s()
        self._order = list(self._docs)
        model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        model.index(self.tokenize([self._docs[i].text for i in self._order]), show_progress=False)
        self._model = model

    # --- searching ------------------------------------------------------------------------------------------

    def _search_batch(self, queries: list[str], k: int, filter: MetadataFilter | None) -> list[list[SearchHit]]:
        self.warm_up()
        model, order = self._model, self._order
        mask = None
        if filter is not None:
            mask = np.fromiter((matches(self._docs[i], filter) for i in order), np.float32, len(order))
            if not mask.any():
                return [[] for _ in queries]
        out: list[list[SearchHit]] = [[] for _ in queries]
        tokens = self.tokenize(queries)
        known = [n for n, t in enumerate(tokens) if any(w in model.vocab_dict for w in t)]
        if not known:
            return out
        kk = min(k, len(order))
        rows, scores = model.retrieve([tokens[n] for n in known], k=kk, show_progress=False, weight_mask=mask)
        for n, row, srow in zip(known, rows.tolist(), scores.tolist(), strict=True):
            out[n] = [SearchHit(self._docs[order[r]], float(s)) for r, s in zip(row, srow, strict=True)
                      if s > 0 and (mask is None or mask[r])]
        return out

    # --- saving, loading ------------------------------------------------------------------------------------

    def save(self, folder: str) -> None:
        """Write the bm25s index, the documents (JSONL) and the settings to ``folder``."""
        self.warm_up()
        os.makedirs(folder, exist_ok=True)
        if self._model is not None:
            self._model.save(os.path.join(folder, "bm25s"), show_progress=False)
        order = self._order if self._model is not None else list(self._docs)
        write_documents(os.path.join(folder, "documents.jsonl"), ((n, self._docs[i]) for n, i in enumerate(order)))
        write_config(folder, {"retriever": "bm25", "stemmer": self.stemmer, "stopwords": self.stopwords,
                              "k1": self.k1, "b": self.b, "method": self.method, "count": len(self._docs)})

    @classmethod
    def load(cls, folder: str) -> BM25Retriever:
        """Load what :meth:`save` wrote (the index is read back, not rebuilt)."""
        config = read_config(folder)
        retriever = cls(stemmer=config["stemmer"], stopwords=config["stopwords"], k1=config["k1"],
                        b=config["b"], method=config["method"])
        rows = read_documents(os.path.join(folder, "documents.jsonl"))
        retriever._docs = {d.id: d for _, d in rows}  # type: ignore[misc]
        if os.path.isdir(os.path.join(folder, "bm25s")):
            retriever._model = _bm25s().BM25.load(os.path.join(folder, "bm25s"), show_progress=False)
            retriever._order = [d.id for _, d in rows]  # type: ignore[misc]
            if retriever._model.scores["num_docs"] != len(rows):
                raise ValueError(f"{folder}: index holds {retriever._model.scores['num_docs']} documents "
                                 f"but documents.jsonl {len(rows)}")
        return retriever

    def index_bytes(self) -> int:
        """Size of the sparse score matrix (data, indices, indptr), in bytes."""
        self.warm_up()
        if self._model is None:
            return 0
        s = self._model.scores
        return int(sum(np.asarray(s[key]).nbytes for key in ("data", "indices", "indptr")))
