"""Model loading (cached per path, device and dtype) and the sentence embedder used for query relevance."""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from contextzip.cache import output_cache
from contextzip.engine import ScoringEngine, pad_batch
from contextzip.model_registry import resolve_model_path
from contextzip.segment import encodable
from contextzip.validation import check_positive_int

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Inside the block, transformers and huggingface_hub show no progress bar ("Loading weights 0/103 ...") and
    log nothing below ERROR, and Python warnings are ignored, unless contextzip's logger is at INFO or lower
    (``logging.getLogger("contextzip").setLevel(logging.INFO)`` or ``contextzip -v``). Their previous settings
    are restored when the block ends, so the caller's own code keeps its own settings."""
    if logging.getLogger("contextzip").getEffectiveLevel() <= logging.INFO:
        yield
        return
    try:
        import transformers.utils.logging as hf_logging
        from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    except ImportError:
        yield
        return
    bars, hub_bars, verbosity = hf_logging.is_progress_bar_enabled(), not are_progress_bars_disabled(), \
        hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        elif hub_bars:
            enable_progress_bars()


def cached_model(key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """The one model cache: ``load()`` runs once per ``key`` (path, kind, device, dtype) per process, and every
    compressor, scorer and reader that asks for the same model shares the loaded object. The load is quiet
    (:func:`quiet_loading`) unless contextzip logs at INFO."""
    with _LOCK:
        if key not in _CACHE:
            with quiet_loading():
                _CACHE[key] = load()
        return _CACHE[key]  # type: ignore[no-any-return]


def load_pretrained(model_name_or_path: str, engine: ScoringEngine, auto_class: str = "AutoModel") -> tuple[Any, Any]:
    """Load (tokenizer, model) once per (path, class, device, dtype) and reuse it across compressors."""
    path = resolve_model_path(model_name_or_path)

    def load() -> tuple[Any, Any]:
        import torch
        import transformers

        logger.info("Loading %s (%s) on %s", model_name_or_path, auto_class, engine.device)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        kwargs = {}
        if engine.device == "cpu":
            # Measured on this project's 2-core CPU (mBERT base, benchmarks/llmlingua2_throughput.py): in bfloat16
            # eager attention is 8-14% faster than SDPA at every length; in float32 they tie on short inputs and
            # SDPA is 28% faster on 512-token chunks (1,067 against 831 tokens/s).
            kwargs["attn_implementation"] = "sdpa" if engine.dtype == torch.float32 else "eager"
        model = getattr(transformers, auto_class).from_pretrained(path, **kwargs)
        return tokenizer, engine.prepare(model)

    return cached_model((path, auto_class, engine.device, str(engine.dtype)), load)


def _encodable(texts: Any) -> Any:
    if isinstance(texts, str):
        return encodable(texts)
    if isinstance(texts, (list, tuple)) and any(isinstance(t, str) and not t.isascii() for t in texts):
        return [encodable(t) if isinstance(t, str) else t for t in texts]
    return texts


class EncodableTokenizer:
    """A Hugging Face tokenizer that never sees a lone surrogate (:func:`contextzip.segment.encodable`: each
    becomes U+FFFD, so offsets still index the caller's text); every other attribute is the tokenizer's own."""

    def __init__(self, tokenizer: Any) -> None:
        self.wrapped = tokenizer

    def __call__(self, text: Any = None, text_pair: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self.wrapped(_encodable(text), _encodable(text_pair), *args, **kwargs)

    def encode(self, text: Any, *args: Any, **kwargs: Any) -> Any:
        return self.wrapped.encode(_encodable(text), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class LazyModel:
    """A (tokenizer, model) pair loaded on first use through the model cache: subclasses say how in ``load``.

    Args:
        model_name_or_path: a registered name, hub id or local path.
        engine: the scoring engine (device, dtype, batching).
    """

    def __init__(self, model_name_or_path: str, engine: ScoringEngine) -> None:
        self.model_name_or_path = model_name_or_path
        self.engine = engine
        self._tokenizer: Any = None
        self._model: Any = None

    def load(self) -> tuple[Any, Any]:
        """(tokenizer, model), from the shared cache (:func:`cached_model`)."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load the model once (idempotent)."""
        if self._model is None:
            tokenizer, self._model = self.load()
            self._tokenizer = EncodableTokenizer(tokenizer)

    @property
    def tokenizer(self) -> Any:
        self.warm_up()
        return self._tokenizer

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model


class SentenceEmbedder(LazyModel):
    """Mean-pooled, L2-normalised sentence embeddings (all-MiniLM-L6-v2 by default), via the shared engine.

    Args:
        model_name_or_path: a registered name ("minilm"), hub id or local path of a BERT-like encoder.
        engine: the scoring engine (device, dtype, batching); a default CPU/GPU engine when omitted.
        max_length: wordpieces kept per text (MiniLM was trained on 256).
        cache: where embeddings of texts seen before are kept (:mod:`contextzip.cache`): a backend, a URL
            ("memory", "redis://..."), ``False`` for none, ``None`` for the process default (off unless set).
    """

    def __init__(
        self,
        model_name_or_path: str = "minilm",
        engine: ScoringEngine | None = None,
        max_length: int = 256,
        cache: Any = None,
    ) -> None:
        super().__init__(model_name_or_path, engine or ScoringEngine())
        self.max_length = check_positive_int("max_length", max_length)
        self.width_multiple = 8  # see _embed (8 measured 3-4% faster than 16 for MiniLM on sentences, same outputs)
        self.cache = output_cache(cache, lambda: f"embed|{model_name_or_path}|{self.max_length}|{self.engine.dtype}",
                                  model_name_or_path)

    def load(self) -> tuple[Any, Any]:
        return load_pretrained(self.model_name_or_path, self.engine)

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.config.hidden_size)

    def encode(self, texts: Sequence[str], show_progress_bar: bool | None = None) -> np.ndarray:
        """Embed ``texts``; returns a float32 array of shape (len(texts), dimension), rows of unit length."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of str; wrap a single text in a list")
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.cache is not None:
            found = self.cache.lookup(list(texts), lambda todo: [(r,) for r in self._embed(todo, show_progress_bar)])
            return np.stack([f[0] for f in found])
        return self._embed(texts, show_progress_bar)

    def _embed(self, texts: Sequence[str], show_progress_bar: bool | None) -> np.ndarray:
        """The model's embeddings of ``texts`` (no cache)."""
        tokenizer, model = self._tokenizer, self._model
        encoded = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=self.max_length)
        ids = encoded["input_ids"]
        lengths = [len(x) for x in ids]

        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        def collate(batch: list[int]) -> dict[str, Any]:
            # Widths rounded up to a multiple of ``width_multiple`` (masked, so the vectors do not change): CPU
            # kernels keep a cache per input shape, and one shape per sentence length grew the process by ~35 KB
            # per sentence (10,000 one-sentence documents: +400 MB).
            return pad_batch([ids[i] for i in batch], pad_id, multiple=self.width_multiple)

        def forward(tensors: dict[str, Any]) -> Any:
            import torch

            hidden = model(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]).last_hidden_state
            mask = tensors["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)

        rows = self.engine.run(list(range(len(ids))), lengths=lengths, collate=collate, forward=forward,
                               desc="Embedding", show_progress_bar=show_progress_bar)
        return np.stack([r.numpy() for r in rows]).astype(np.float32, copy=False)
