"""A content-addressed cache of gist vectors, so a passage is encoded once across queries (CompLLM).

A segment's gists depend only on the encoder, the projector's weights, k and the segment's text, so they are stored
under ``sha256(encoder, projector.weights_hash(), k, text)``: retraining the projector (or perturbing one weight)
gives every segment new keys, and an old entry can never be served for new weights. Entries with ``k = 0`` hold a
segment's (or query's) pooled encoder vector, used to rank segments against a query; they do not depend on the
projector.

Two tiers: an in-process LRU bounded by bytes (:class:`contextzip.cache.MemoryCache`) and, optionally, a directory
with one ``.npy`` file per key (:class:`DirectoryStore`; writes go to a temporary file first and are moved into
place with ``os.replace``, so a reader never sees half a file and several processes can share the folder).
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import tempfile
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from contextzip.cache import DEFAULT_MEMORY_BYTES, CacheStats, MemoryCache

__all__ = ["DirectoryStore", "GistCache", "gist_key"]


def gist_key(encoder: str, projector_hash: str, k: int, text: str) -> str:
    """The content address of ``text``'s ``k`` gists (``k = 0``: its pooled encoder vector)."""
    digest = hashlib.sha256()
    for part in (encoder, projector_hash if k else "", str(int(k))):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class DirectoryStore:
    """Bytes under hex keys in a folder, one file per key (``<dir>/<key[:2]>/<key>.npy``), written atomically.

    Follows :class:`contextzip.cache.CacheBackend` (``get_many`` / ``set_many``). Nothing is ever evicted: delete
    the folder to reclaim the space.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> pathlib.Path:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a store key is a lowercase hex digest, but got {key!r:.80}")
        return self.directory / key[:2] / f"{key}.npy"

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for key in keys:
            try:
                out.append(self.path(key).read_bytes())
            except FileNotFoundError:
                out.append(None)
        return out

    def set_many(self, items: Mapping[str, bytes]) -> None:
        for key, value in items.items():
            target = self.path(key)
            target.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(value)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*/*.npy"))

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.directory)!r})"


def _to_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


Computed = Callable[[list[tuple[str, int]]], list[np.ndarray]]


class GistCache:
    """Gist vectors (float32 ``(k, d)`` arrays) by content address, in memory and optionally on disk.

    Args:
        directory: a folder for the on-disk store (``None``: memory only). Entries found on disk are promoted to
            memory.
        max_bytes: what the in-memory LRU holds at most (a k=16 gist of SmolLM2's 576 dimensions is 37 KB, so the
            default 256 MiB holds ~7,000 of them; the least recently used go first).

    ``hits`` / ``misses`` count lookups (a disk hit is a hit). Thread-safe.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None,
                 max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.memory = MemoryCache(max_bytes)
        self.store = DirectoryStore(directory) if directory is not None else None
        self.stats = CacheStats()

    @property
    def hits(self) -> int:
        return self.stats.hits

    @property
    def misses(self) -> int:
        return self.stats.misses

    def __len__(self) -> int:
        return len(self.memory)

    def get_many(self, keys: Sequence[str]) -> list[np.ndarray | None]:
        """The arrays under ``keys`` (``None`` where absent); counts hits and misses."""
        raw = self.memory.get_many(keys)
        absent = [i for i, r in enumerate(raw) if r is None]
        if absent and self.store is not None:
            found = self.store.get_many([keys[i] for i in absent])
            promote = {keys[i]: f for i, f in zip(absent, found, strict=True) if f is not None}
            self.memory.set_many(promote)
            for i, f in zip(absent, found, strict=True):
                raw[i] = f
        out = [_from_bytes(r) if r is not None else None for r in raw]
        self.stats.record(out)
        return out

    def set_many(self, items: Mapping[str, np.ndarray]) -> None:
        encoded = {key: _to_bytes(value) for key, value in items.items()}
        self.memory.set_many(encoded)
        if self.store is not None:
            self.store.set_many(encoded)

    def lookup(self, encoder: str, projector_hash: str, wanted: Sequence[tuple[str, int]],
               compute: Computed) -> list[np.ndarray]:
        """The vectors of each ``(text, k)`` in ``wanted``; ``compute(misses)`` (one call, distinct pairs, in first
        appearance order) returns the missing ones, which are then stored."""
        keys = [gist_key(encoder, projector_hash, k, text) for text, k in wanted]
        found = self.get_many(keys)
        missing = list(dict.fromkeys(w for w, f in zip(wanted, found, strict=True) if f is None))
        if missing:
            values = compute(missing)
            if len(values) != len(missing):
                raise ValueError(f"compute returned {len(values)} arrays for {len(missing)} missing entries")
            computed = {w: np.asarray(v, dtype=np.float32) for w, v in zip(missing, values, strict=True)}
            self.set_many({gist_key(encoder, projector_hash, k, t): computed[(t, k)] for t, k in missing})
            found = [f if f is not None else computed[w] for w, f in zip(wanted, found, strict=True)]
        return found  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"GistCache(entries={len(self.memory)}, store={self.store!r}, {self.stats!r})"
