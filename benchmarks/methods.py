"""The rows of docs/benchmarks.md: every method the page compares, how to build it, and who made it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_METHOD = "query-guided"


@dataclass(frozen=True)
class Method:
    """One row family: how to build it, whether it runs an LM per question, and who made it."""

    name: str
    label: str
    family: str  # "contextzip", "baseline" or "peer"
    build: Callable[[], Any]
    uses_lm: bool = False  # runs a language model per question (a smaller subset: --lm-limit)


def _registry(name: str) -> Callable[[], Any]:
    def build() -> Any:
        from contextzip.registry import load_compressor

        return load_compressor(name)

    return build


def _peer(module: str, cls: str) -> Callable[[], Any]:
    def build() -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)()

    return build


METHODS = [
    Method("query-guided", "contextzip query-guided (default)", "contextzip", _registry("query-guided")),
    Method("coarse-to-fine", "contextzip coarse-to-fine", "contextzip", _registry("coarse-to-fine")),
    Method("token-classification", "contextzip token-classification", "contextzip",
           _registry("token-classification")),
    Method("long-perplexity", "contextzip long-perplexity", "contextzip", _registry("long-perplexity"), uses_lm=True),
    Method("truncate", "baseline: truncate", "baseline", _registry("truncate")),
    Method("random-sentences", "baseline: random sentences", "baseline", _registry("random-sentences")),
    Method("bm25-sentences", "baseline: BM25 sentences", "baseline", _registry("bm25-sentences")),
    Method("llmlingua", "peer: LLMLingua (llmlingua 0.2.2, SmolLM2-135M)", "peer",
           _peer("benchmarks.peers.llmlingua_peer", "LLMLinguaPeer"), uses_lm=True),
    Method("longllmlingua", "peer: LongLLMLingua (llmlingua 0.2.2, SmolLM2-135M)", "peer",
           _peer("benchmarks.peers.llmlingua_peer", "LongLLMLinguaPeer"), uses_lm=True),
    Method("langchain-embeddings-filter", "peer: LangChain EmbeddingsFilter pipeline (MiniLM)", "peer",
           _peer("benchmarks.peers.langchain_peer", "LangChainEmbeddingsFilterPeer")),
]
METHODS_BY_NAME = {m.name: m for m in METHODS}
METHOD_NAMES = [m.name for m in METHODS]
