"""Content-addressed caches of model outputs: sentence embeddings and token keep probabilities.

A RAG service retrieves the same popular documents again and again; their sentences' vectors and keep
probabilities depend only on (model, weights, settings, text), so they are stored under the key
``sha256(namespace + text)`` where the namespace names the model, a fingerprint of its weight files and the
settings that change the output (dtype, maximum length). Values are bytes (numpy arrays, ``np.save`` format).

Backends follow the :class:`CacheBackend` protocol (``get_many`` / ``set_many`` of bytes):
:class:`MemoryCache` (an LRU bounded by bytes, the default) and :class:`RedisCache` (replicas that share one
cache). :class:`ArrayCache` puts arrays in a backend under content keys and counts hits and misses.

Caching is off unless asked for: pass ``cache=`` to :class:`~contextzip.models.SentenceEmbedder` or
:class:`~contextzip.compressors.token_scorer.TokenKeepScorer`, call :func:`set_default_cache`, or set
``CONTEXTZIP_OUTPUT_CACHE`` to ``memory`` (256 MiB), ``memory:<MiB>`` or a ``redis://`` URL. A cached vector is the one
the model computed for that text, so outputs are the same with or without the cache.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pathlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from contextzip.errors import missing_dependency
from contextzip.validation import check_positive_int

__all__ = ["ArrayCache", "CacheBackend", "CacheStats", "MemoryCache", "RedisCache", "cache_from_url",
           "default_cache", "set_default_cache", "weights_fingerprint"]

CACHE_ENV = "CONTEXTZIP_OUTPUT_CACHE"  # (CONTEXTZIP_CACHE is the directory of converted models)
DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024


@runtime_checkable
class CacheBackend(Protocol):
    """Where cached bytes live: a missing key reads as ``None``."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def set_many(self, items: Mapping[str, bytes]) -> None: ...


class MemoryCache:
    """An in-process LRU of bytes, bounded by their total size (thread-safe).

    Args:
        max_bytes: values (and keys) held at most; the least recently used go first.
    """

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.max_bytes = check_positive_int("max_bytes", max_bytes)
        self._data: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        with self._lock:
            for key in keys:
                value = self._data.get(key)
                if value is not None:
                    self._data.move_to_end(key)
                out.append(value)
        return out

    def set_many(self, items: Mapping[str, bytes]) -> None:
        with self._lock:
            for key, value in items.items():
                size = len(key) + len(value)
                if size > self.max_bytes:
                    continue
                old = self._data.pop(key, None)
                if old is not None:
                    self.nbytes -= len(key) + len(old)
                self._data[key] = value
                self.nbytes += size
            while self.nbytes > self.max_bytes:
                key, value = self._data.popitem(last=False)
                self.nbytes -= len(key) + len(value)

    def __repr__(self) -> str:
        return f"MemoryCache(max_bytes={self.max_bytes}, held={self.nbytes})"


class RedisCache:
    """A Redis-backed cache that several processes or replicas share (``pip install redis``).

    Args:
        url: ``redis://host:port/db``.
        prefix: put before every key (one Redis can hold several caches).
        ttl_s: seconds a value lives (``None``: until Redis evicts it; set ``maxmemory`` and an LRU policy).
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "contextzip:",
                 ttl_s: int | None = None) -> None:
        try:
            import redis
        except ImportError as exc:
            raise missing_dependency("redis", "cache") from exc
        self.url, self.prefix, self.ttl_s = url, prefix, ttl_s
        self._client = redis.Redis.from_url(url)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return list(self._client.mget([self.prefix + k for k in keys]))

    def set_many(self, items: Mapping[str, bytes]) -> None:
        if not items:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(self.prefix + key, value, ex=self.ttl_s)
        pipe.execute()

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r}, prefix={self.prefix!r})"


class CacheStats:
    """Hits and misses of one :class:`ArrayCache`."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def record(self, found: Sequence[Any]) -> None:
        """Count one lookup's results: a hit for each that is not ``None``, a miss for each that is (thread-safe)."""
        hits = sum(f is not None for f in found)
        with self._lock:
            self.hits += hits
            self.misses += len(found) - hits

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None

    def snapshot(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "hit_rate": self.hit_rate}

    def __repr__(self) -> str:
        return f"CacheStats(hits={self.hits}, misses={self.misses})"


class ArrayCache:
    """Tuples of numpy arrays in a :class:`CacheBackend`, under ``sha256(namespace, text)`` keys.

    Args:
        backend: where the bytes go.
        namespace: what besides the text decides the value: model, weights fingerprint, settings (or a function
            that says it, called on first use: the model need not be loaded before).
    """

    def __init__(self, backend: CacheBackend, namespace: str | Callable[[], str]) -> None:
        self.backend = backend
        self._namespace = namespace
        self.stats = CacheStats()

    @property
    def namespace(self) -> str:
        if callable(self._namespace):
            self._namespace = self._namespace()
        return self._namespace

    def key(self, text: str) -> str:
        digest = hashlib.sha256(self.namespace.encode())
        digest.update(b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get_many(self, texts: Sequence[str]) -> list[tuple[np.ndarray, ...] | None]:
        raw = self.backend.get_many([self.key(t) for t in texts])
        out = [decode_arrays(r) if r is not None else None for r in raw]
        self.stats.record(out)
        return out

    def set_many(self, texts: Sequence[str], values: Sequence[tuple[np.ndarray, ...]]) -> None:
        self.backend.set_many({self.key(t): encode_arrays(v) for t, v in zip(texts, values, strict=True)})

    def lookup(self, texts: Sequence[str],
               compute: Callable[[list[str]], list[tuple[np.ndarray, ...]]]) -> list[tuple[np.ndarray, ...]]:
        """The cached value of each text; ``compute(misses)`` (one call, distinct texts) fills the rest."""
        found = self.get_many(texts)
        missing = list(dict.fromkeys(t for t, f in zip(texts, found, strict=True) if f is None))
        if missing:
            computed = dict(zip(missing, compute(missing), strict=True))
            self.set_many(missing, [computed[t] for t in missing])
            found = [f if f is not None else computed[t] for t, f in zip(texts, found, strict=True)]
        return found  # type: ignore[return-value]


def encode_arrays(arrays: tuple[np.ndarray, ...]) -> bytes:
    buf = io.BytesIO()
    buf.write(bytes([len(arrays)]))
    for a in arrays:
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def decode_arrays(data: bytes) -> tuple[np.ndarray, ...]:
    buf = io.BytesIO(data)
    n = buf.read(1)[0]
    return tuple(np.load(buf, allow_pickle=False) for _ in range(n))


_FINGERPRINTS: dict[str, str] = {}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".gguf")


def weights_fingerprint(path: str) -> str:
    """A short hash of a model's weight files (names, sizes, and the first and last MiB of each): a retrained
    model gets new keys. For a hub id without local files, the id itself."""
    if path in _FINGERPRINTS:
        return _FINGERPRINTS[path]
    root = pathlib.Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix in _WEIGHT_SUFFIXES) if root.is_dir() else (
        [root] if root.is_file() else [])
    digest = hashlib.sha256(str(path).encode() if not files else b"")
    for p in files:
        size = p.stat().st_size
        digest.update(f"{p.relative_to(root) if root.is_dir() else p.name}:{size}".encode())
        with p.open("rb") as f:
            digest.update(f.read(1 << 20))
            if size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                digest.update(f.read())
    _FINGERPRINTS[path] = digest.hexdigest()[:16]
    return _FINGERPRINTS[path]


def cache_from_url(url: str) -> CacheBackend:
    """``memory``, ``memory:<MiB>`` or ``redis://...`` as a backend."""
    if url == "memory":
        return MemoryCache()
    if url.startswith("memory:"):
        mib = url.split(":", 1)[1]
        if not mib.isdigit() or int(mib) <= 0:
            raise ValueError(f"a memory cache size is a positive number of MiB, but got {url!r}")
        return MemoryCache(int(mib) * 1024 * 1024)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(url)
    raise ValueError(f"a cache is 'memory', 'memory:<MiB>' or a redis:// URL, but got {url!r}")


_DEFAULT: list[CacheBackend | None] = []
_DEFAULT_LOCK = threading.Lock()


def set_default_cache(backend: CacheBackend | str | None) -> None:
    """The backend that embedders and token scorers built without ``cache=`` use (``None``: no caching)."""
    with _DEFAULT_LOCK:
        _DEFAULT[:] = [cache_from_url(backend) if isinstance(backend, str) else backend]


def default_cache() -> CacheBackend | None:
    """What :func:`set_default_cache` set, else ``$CONTEXTZIP_OUTPUT_CACHE`` (read once), else ``None``."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            url = os.environ.get(CACHE_ENV)
            _DEFAULT.append(cache_from_url(url) if url else None)
        return _DEFAULT[0]


def output_cache(cache: CacheBackend | str | bool | None, settings: Callable[[], str],
                 model_name_or_path: str) -> ArrayCache | None:
    """A model component's cache (``None`` when off): ``settings()`` names the model and what changes its output,
    and the fingerprint of the resolved model's weight files is added to it."""
    backend = resolve_cache(cache)
    if backend is None:
        return None

    def namespace() -> str:
        from contextzip.model_registry import resolve_model_path

        return f"{settings()}|{weights_fingerprint(resolve_model_path(model_name_or_path))}"

    return ArrayCache(backend, namespace)


def resolve_cache(cache: CacheBackend | str | bool | None) -> CacheBackend | None:
    """A component's ``cache=`` argument: a backend, a URL, ``False`` (off) or ``None`` (the default cache)."""
    if cache is False:
        return None
    if cache is None:
        return default_cache()
    if isinstance(cache, str):
        return cache_from_url(cache)
    if not isinstance(cache, CacheBackend):
        raise TypeError(f"cache must be a CacheBackend, a URL, False or None, but got {type(cache).__name__}")
    return cache
