"""The compressor registry: short names to compressor classes, built in or from plugins.

Plugins register through the ``contextzip.compressors`` entry point group (``name = "package.module:Class"``).
Nothing below the compressors imports this module: it knows every compressor.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextzip.compressors.base import BaseCompressor


COMPRESSORS: dict[str, str] = {
    "truncate": "contextzip.compressors.truncate:TruncateCompressor",
    "query-guided": "contextzip.compressors.query_guided:QueryGuidedCompressor",
    "random-sentences": "contextzip.compressors.baselines:RandomSentenceCompressor",
    "bm25-sentences": "contextzip.compressors.baselines:BM25SentenceCompressor",
    "embedding-sentences": "contextzip.compressors.baselines:EmbeddingSentenceCompressor",
    "token-classification": "contextzip.compressors.token_classification:TokenClassificationCompressor",
    "token-classification-query": "contextzip.compressors.token_classification_query:QueryAwareTokenClassificationCompressor",
    "coarse-to-fine": "contextzip.compressors.pipeline:CoarseToFineCompressor",
    "perplexity": "contextzip.compressors.perplexity:PerplexityCompressor",
    "long-perplexity": "contextzip.compressors.perplexity:LongPerplexityCompressor",
    "abstractive": "contextzip.compressors.abstractive:AbstractiveCompressor",
    "gist": "contextzip.gist.compressor:GistCompressor",
}


def _import_object(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def compressor_names() -> list[str]:
    names = set(COMPRESSORS)
    names.update(ep.name for ep in entry_points(group="contextzip.compressors"))
    return sorted(names)


def get_compressor_class(name: str) -> type[BaseCompressor]:
    """The compressor class registered under ``name`` (built-in or from a ``contextzip.compressors`` plugin)."""
    if name in COMPRESSORS:
        return _import_object(COMPRESSORS[name])  # type: ignore[no-any-return]
    for ep in entry_points(group="contextzip.compressors"):
        if ep.name == name:
            return ep.load()  # type: ignore[no-any-return]
    raise ValueError(f"compressor must be one of {compressor_names()}, but got {name!r}")


def load_compressor(name: str, **kwargs: Any) -> BaseCompressor:
    """Instantiate a compressor by registry name; keyword arguments go to its constructor."""
    return get_compressor_class(name)(**kwargs)
