"""Static sentence vectors (`model2vec <https://github.com/MinishLab/model2vec>`_): a text's vector is the mean of
its word pieces' rows, with no transformer pass.

The packaged ``minilm-static`` holds all-MiniLM-L6-v2's word pieces distilled into 128-dimensional int8 rows
(``training/distill_static.py``). Query-guided compression uses it as the first stage of its dense scoring: it
ranks every sentence in about a millisecond per context, and MiniLM then embeds only the best candidates, up to
``dense_tokens`` word pieces per request (see :class:`contextzip.compressors.query_guided.QueryGuidedScorer`). Any
model2vec model (a hub id or a local folder) loads the same way::

    StaticEmbedder("minishlab/potion-base-8M")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from contextzip.model_registry import resolve_model_path
from contextzip.models import cached_model
from contextzip.segment import encodable

__all__ = ["DEFAULT_STATIC_MODEL", "StaticEmbedder", "as_prefilter"]

DEFAULT_STATIC_MODEL = "minilm-static"


class StaticEmbedder:
    """A :class:`~contextzip.scorers.TextEmbedder` over a model2vec static model: unit-length float32 rows.

    Args:
        model_name_or_path: a registered name ("minilm-static"), a model2vec folder or a hub id.
    """

    def __init__(self, model_name_or_path: str = DEFAULT_STATIC_MODEL) -> None:
        self.model_name_or_path = model_name_or_path
        self._model = None

    def _load(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            from model2vec import StaticModel

            path = resolve_model_path(self.model_name_or_path)
            self._model = cached_model((path, "model2vec"), lambda: StaticModel.from_pretrained(path))
        return self._model

    def warm_up(self) -> None:
        self._load()

    def encode(self, texts: Sequence[str], show_progress_bar: bool | None = None) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, model.dim), dtype=np.float32)
        vectors = np.asarray(model.encode([encodable(t) for t in texts], use_multiprocessing=False),
                             dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # a text of unknown pieces only is a zero row

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Word pieces per text, with the [CLS] / [SEP] pair a transformer reads (MiniLM's vocabulary)."""
        if not texts:
            return np.zeros(0, dtype=np.int64)
        encodings = self._load().tokenizer.encode_batch_fast([encodable(t) for t in texts], add_special_tokens=False)
        return np.asarray([len(e.ids) + 2 for e in encodings], dtype=np.int64)


def as_prefilter(prefilter: Any) -> Any:
    """A compressor's ``prefilter`` argument as a first-stage embedder: a model name or path becomes a
    :class:`StaticEmbedder`; an embedder object, or ``None`` (no first stage), is returned as given."""
    return StaticEmbedder(prefilter) if isinstance(prefilter, str) else prefilter
