"""FAISS vector indexes for unit-length embeddings, one class per index type, all behind one small interface.

Every index stores vectors under caller-given int64 labels, searches by inner product (cosine, for unit vectors),
optionally only among allowed labels (metadata filters), removes labels, reports its size and saves/loads itself.
Choose by name with :func:`make_index` or pass an instance.

- ``flat``: ``IndexFlatIP``, exact, 1536 bytes per 384-d vector: the reference.
- ``hnsw``: ``IndexHNSWFlat`` graph, full vectors plus links; removals are tombstones.
- ``ivfpq``: ``IndexIVFPQ``, inverted lists and PQ codes (``m`` bytes, 48 by default); trained on the first ``add``.
- ``int8``: ``IndexScalarQuantizer`` QT_8bit, 384 bytes; trained on the first ``add``.
- ``binary``: ``IndexBinaryFlat`` on sign bits, 48 bytes (+ float vectors kept for re-scoring).

Each also keeps 8 bytes per vector for its label (``IndexIDMap2`` or IVF lists), counted in :meth:`nbytes`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

logger = logging.getLogger(__name__)


def _faiss() -> Any:
    import faiss

    return faiss


def _as_vectors(vectors: Any, dimension: int | None = None) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, dimension), but got shape {x.shape}")
    if dimension is not None and x.shape[1] != dimension:
        raise ValueError(f"vectors must have dimension {dimension}, but got {x.shape[1]}")
    return x


def _as_labels(labels: Any, n: int | None = None) -> np.ndarray:
    ids = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
    if n is not None and len(ids) != n:
        raise ValueError(f"got {len(ids)} labels for {n} vectors")
    return ids


class VectorIndex(ABC):
    """Common behaviour of the FAISS indexes; subclasses build the structure and its search parameters."""

    name: ClassVar[str] = "base"

    def __init__(self) -> None:
        self.dimension: int | None = None
        self._index: Any = None
        self._tombstones: set[int] = set()

    # --- subclass hooks -------------------------------------------------------------------------------------

    @abstractmethod
    def _build(self, dimension: int, training: np.ndarray) -> Any:
        """A new, trained FAISS index for ``dimension`` (``training``: the first vectors added)."""

    def _params(self, selector: Any, k: int) -> Any:
        return _faiss().SearchParameters(sel=selector) if selector is not None else None

    def config(self) -> dict[str, Any]:
        """The constructor arguments, saved with the index."""
        return {}

    # --- public API -----------------------------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        """Vectors held, including tombstoned ones."""
        return 0 if self._index is None else int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal - len(self._tombstones)

    def add(self, vectors: Any, labels: Any) -> None:
        """Add unit-length ``vectors`` (n, dimension) under int64 ``labels``; the first call trains if needed."""
        x = _as_vectors(vectors, self.dimension)
        ids = _as_labels(labels, len(x))
        if not len(x):
            return
        if self._index is None:
            self.dimension = int(x.shape[1])
            self._index = self._build(self.dimension, x)
        self._add(x, ids)

    def _add(self, x: np.ndarray, ids: np.ndarray) -> None:
        self._index.add_with_ids(x, ids)

    def remove(self, labels: Any) -> None:
        """Remove the vectors stored under ``labels`` (unknown labels are ignored)."""
        ids = _as_labels(labels)
        if self._index is not None and len(ids):
            self._index.remove_ids(ids)

    def search(self, queries: Any, k: int, allowed: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and labels (n, k) of each query's ``k`` best vectors, best first; label -1 pads missing ones.

        ``allowed``: restrict the search to these labels (a metadata filter's result).
        """
        q = _as_vectors(queries, self.dimension)
        if self._index is None or not len(q):
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        return self._search(q, k, self._selector(allowed), allowed)

    def _selector(self, allowed: Any) -> Any:
        """A FAISS ID selector for ``allowed`` minus the tombstones (``IDSelectorBatch`` copies the labels)."""
        faiss = _faiss()
        if allowed is not None:
            ids = _as_labels(allowed)
            if self._tombstones:
                ids = np.setdiff1d(ids, np.fromiter(self._tombstones, np.int64))
            return faiss.IDSelectorBatch(ids)
        if self._tombstones:
            inner = faiss.IDSelectorBatch(np.fromiter(self._tombstones, np.int64))
            selector = faiss.IDSelectorNot(inner)
            selector._inner = inner  # IDSelectorNot keeps a raw pointer: hold the wrapped selector
            return selector
        return None

    def _search(self, q: np.ndarray, k: int, selector: Any, allowed: Any) -> tuple[np.ndarray, np.ndarray]:
        scores, labels = self._index.search(q, min(k, self.ntotal), params=self._params(selector, k))
        return _pad(scores, labels, k)

    def nbytes(self) -> int:
        """Serialized size of the index (codes, structure and label map), in bytes."""
        if self._index is None:
            return 0
        return int(_faiss().serialize_index(self._index).nbytes)

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        if self._index is not None:
            _faiss().write_index(self._index, os.path.join(folder, "index.faiss"))
        self._write_meta(folder)

    def _write_meta(self, folder: str) -> None:
        with open(os.path.join(folder, "index.json"), "w", encoding="utf-8") as f:
            json.dump({"type": self.name, "config": self.config(), "dimension": self.dimension,
                       "tombstones": sorted(self._tombstones)}, f)

    @classmethod
    def load(cls, folder: str) -> VectorIndex:
        """Load an index that :meth:`save` wrote (of whichever type it was)."""
        with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
            meta = json.load(f)
        index = make_index(meta["type"], **meta.get("config", {}))
        index.restore(folder, meta)
        return index

    def restore(self, folder: str, meta: dict[str, Any]) -> None:
        """Read the files :meth:`save` wrote into this new, empty index (``meta``: its ``index.json``)."""
        self.dimension = meta.get("dimension")
        self._tombstones = set(meta.get("tombstones", []))
        path = os.path.join(folder, "index.faiss")
        if os.path.isfile(path):
            self._index = _faiss().read_index(path)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _pad(scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if labels.shape[1] < k:
        extra = k - labels.shape[1]
        scores = np.pad(scores, ((0, 0), (0, extra)), constant_values=-np.inf)
        labels = np.pad(labels, ((0, 0), (0, extra)), constant_values=-1)
    scores = np.where(labels < 0, -np.inf, scores).astype(np.float32, copy=False)
    return scores, labels


class FlatIndex(VectorIndex):
    """Exact inner-product search (``IndexFlatIP``): the reference every other index is measured against."""

    name = "flat"

    def _build(self, dimension: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


class HNSWIndex(VectorIndex):
    """A navigable small-world graph over the full vectors (``IndexHNSWFlat``).

    Args:
        m: graph neighbours per node (more: better recall, more memory).
        ef_construction / ef_search: candidate list sizes while building / searching.

    The graph cannot drop nodes, so :meth:`remove` leaves tombstones that searches skip. A filtered search
    that comes back short is retried with a larger ``ef_search``.
    """

    name = "hnsw"

    def __init__(self, m: int = 32, ef_construction: int = 80, ef_search: int = 64) -> None:
        super().__init__()
        for key, value in (("m", m), ("ef_construction", ef_construction), ("ef_search", ef_search)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{key} must be a positive int, but got {value!r}")
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search

    def config(self) -> dict[str, Any]:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def _build(self, dimension: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        graph = faiss.IndexHNSWFlat(dimension, self.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        return faiss.IndexIDMap2(graph)

    def remove(self, labels: Any) -> None:
        ids = _as_labels(labels)
        if self._index is not None:
            held = set(_faiss().vector_to_array(self._index.id_map).tolist())  # the labels held
            self._tombstones.update(int(i) for i in ids if int(i) in held)

    def _search(self, q: np.ndarray, k: int, selector: Any, allowed: Any) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        ef = max(self.ef_search, k)
        available = len(self) if allowed is None else len(np.setdiff1d(
            _as_labels(allowed), np.fromiter(self._tombstones, np.int64)))
        want = min(k, available)
        kk = min(k, self.ntotal)
        scores, labels = self._index.search(q, kk, params=faiss.SearchParametersHNSW(sel=selector, efSearch=ef))
        while selector is not None and ef < self.ntotal:
            short = np.nonzero((labels >= 0).sum(1) < want)[0]
            if not len(short):
                break
            ef = min(self.ntotal, ef * 4)
            s2, l2 = self._index.search(q[short], kk, params=faiss.SearchParametersHNSW(sel=selector, efSearch=ef))
            scores[short], labels[short] = s2, l2
        return _pad(scores, labels, k)


class IVFPQIndex(VectorIndex):
    """Inverted lists over k-means cells, vectors stored as product-quantization codes (``IndexIVFPQ``).

    Args:
        nlist: k-means cells; ``None`` picks ``4 * sqrt(n)``, at most ``n / 39``, for the ``n`` training vectors.
        m: PQ sub-vectors (bytes per vector at 8 bits); ``None`` picks ``dimension / 8``.
        nbits: bits per sub-vector code (lowered for tiny training sets, which cannot fill 256 centroids).
        nprobe: cells visited per query.

    Trained on the vectors of the first :meth:`add`, so add the bulk of the corpus first.
    """

    name = "ivfpq"

    def __init__(self, nlist: int | None = None, m: int | None = None, nbits: int = 8, nprobe: int = 16) -> None:
        super().__init__()
        for key, value in (("nlist", nlist), ("m", m)):
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{key} must be a positive int or None, but got {value!r}")
        if not isinstance(nbits, int) or not 1 <= nbits <= 16:
            raise ValueError(f"nbits must be an int in [1, 16], but got {nbits!r}")
        if not isinstance(nprobe, int) or nprobe <= 0:
            raise ValueError(f"nprobe must be a positive int, but got {nprobe!r}")
        self.nlist, self.m, self.nbits, self.nprobe = nlist, m, nbits, nprobe

    def config(self) -> dict[str, Any]:
        return {"nlist": self.nlist, "m": self.m, "nbits": self.nbits, "nprobe": self.nprobe}

    def _build(self, dimension: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        n = len(training)
        if n < 2:
            raise ValueError(f"IVFPQIndex trains on its first add(), which needs at least 2 vectors, but got {n}")
        nlist = self.nlist or int(4 * math.sqrt(n))
        nlist = max(1, min(nlist, n // 39 or 1))
        m = self.m or next(c for c in range(max(1, dimension // 8), 0, -1) if dimension % c == 0)
        if dimension % m:
            raise ValueError(f"m must divide the dimension {dimension}, but got {m}")
        nbits = min(self.nbits, max(1, int(math.log2(n))))
        if nbits < self.nbits:
            logger.info("IVFPQIndex: %d training vectors, using %d-bit codes instead of %d", n, nbits, self.nbits)
        ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dimension), dimension, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.min_points_per_centroid = 1  # small corpora: no warning storm, the cells are what they are
        ivf.pq.cp.min_points_per_centroid = 1
        ivf.train(training)
        return ivf  # inverted lists store labels themselves (an IndexIDMap would lose track on removal)

    def _params(self, selector: Any, k: int) -> Any:
        return _faiss().SearchParametersIVF(sel=selector, nprobe=min(self.nprobe, self._index.nlist))


class Int8Index(VectorIndex):
    """Each dimension scalar-quantized to 8 bits over its trained range (``IndexScalarQuantizer``, 4x smaller).

    The per-dimension ranges are trained on the first :meth:`add`; later vectors outside them are clipped.
    """

    name = "int8"

    def _build(self, dimension: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        sq = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        sq.train(training)
        return faiss.IndexIDMap2(sq)


class BinaryIndex(VectorIndex):
    """Sign bits of each vector in ``IndexBinaryFlat`` (32x smaller), Hamming search, float re-scoring.

    The ``rescore_multiplier * k`` nearest codes by Hamming distance are re-scored by the inner product of the
    float query with the stored float vectors, which are kept apart from the index (``rescore_nbytes``;
    memory-mapped after :meth:`load`, so they may stay on disk).

    Args:
        rescore_multiplier: candidates per result taken from the Hamming search (1: no re-scoring gain).
    """

    name = "binary"

    def __init__(self, rescore_multiplier: int = 4) -> None:
        super().__init__()
        if not isinstance(rescore_multiplier, int) or rescore_multiplier <= 0:
            raise ValueError(f"rescore_multiplier must be a positive int, but got {rescore_multiplier!r}")
        self.rescore_multiplier = rescore_multiplier
        self._vectors = np.zeros((0, 0), np.float32)
        self._row: dict[int, int] = {}

    def config(self) -> dict[str, Any]:
        return {"rescore_multiplier": self.rescore_multiplier}

    def _build(self, dimension: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        bits = -(-dimension // 8) * 8
        self._vectors = np.zeros((0, dimension), np.float32)
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))

    @staticmethod
    def codes(x: np.ndarray) -> np.ndarray:
        """Sign bits, packed: bit j of a code is 1 where component j is positive."""
        return np.packbits(x > 0, axis=1)

    def _add(self, x: np.ndarray, ids: np.ndarray) -> None:
        self.remove(ids[np.isin(ids, np.fromiter(self._row, np.int64, len(self._row)))])
        start = len(self._vectors)
        self._vectors = np.concatenate([np.asarray(self._vectors), x])
        self._row.update((int(label), start + i) for i, label in enumerate(ids))
        self._index.add_with_ids(self.codes(x), ids)

    def remove(self, labels: Any) -> None:
        ids = _as_labels(labels)
        if self._index is not None and len(ids):
            self._index.remove_ids(ids)
            for label in ids.tolist():
                self._row.pop(int(label), None)

    def _search(self, q: np.ndarray, k: int, selector: Any, allowed: Any) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        n_candidates = min(self.ntotal, k * self.rescore_multiplier)
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        _, candidates = self._index.search(self.codes(q), n_candidates, params=params)
        scores = np.full((len(q), k), -np.inf, np.float32)
        labels = np.full((len(q), k), -1, np.int64)
        for i, row in enumerate(candidates):
            row = row[row >= 0]
            if not len(row):
                continue
            exact = np.asarray(self._vectors[[self._row[int(c)] for c in row]]) @ q[i]
            order = np.argsort(-exact, kind="stable")[:k]
            scores[i, :len(order)], labels[i, :len(order)] = exact[order], row[order]
        return scores, labels

    def rescore_nbytes(self) -> int:
        """Bytes of the float vectors kept for re-scoring (live ones)."""
        return len(self._row) * (self.dimension or 0) * 4

    def nbytes(self) -> int:
        if self._index is None:
            return 0
        return int(_faiss().serialize_index_binary(self._index).nbytes)

    def save(self, folder: str) -> None:
        faiss = _faiss()
        os.makedirs(folder, exist_ok=True)
        if self._index is not None:
            faiss.write_index_binary(self._index, os.path.join(folder, "index.faiss"))
            labels = np.fromiter(self._row, np.int64, len(self._row))
            rows = np.fromiter(self._row.values(), np.int64, len(self._row))
            np.save(os.path.join(folder, "rescore_labels.npy"), labels)
            np.save(os.path.join(folder, "rescore_vectors.npy"), np.asarray(self._vectors)[rows])
        self._write_meta(folder)

    def restore(self, folder: str, meta: dict[str, Any]) -> None:
        self.dimension = meta.get("dimension")
        path = os.path.join(folder, "index.faiss")
        if os.path.isfile(path):
            self._index = _faiss().read_index_binary(path)
            labels = np.load(os.path.join(folder, "rescore_labels.npy"))
            self._vectors = np.load(os.path.join(folder, "rescore_vectors.npy"), mmap_mode="r")
            self._row = {int(label): i for i, label in enumerate(labels.tolist())}


INDEX_TYPES: dict[str, type[VectorIndex]] = {
    cls.name: cls for cls in (FlatIndex, HNSWIndex, IVFPQIndex, Int8Index, BinaryIndex)
}


def make_index(index: str | VectorIndex, **kwargs: Any) -> VectorIndex:
    """An index from its name (see :data:`INDEX_TYPES`) and constructor arguments, or the instance given."""
    if isinstance(index, VectorIndex):
        if kwargs:
            raise ValueError("give index arguments only with an index name, not with an instance")
        return index
    if index not in INDEX_TYPES:
        raise ValueError(f"index must be one of {sorted(INDEX_TYPES)} or a VectorIndex, but got {index!r}")
    return INDEX_TYPES[index](**kwargs)
