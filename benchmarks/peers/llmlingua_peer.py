"""The real ``llmlingua`` package (0.2.2) as a peer, run with the same SmolLM2-135M weights as contextzip's
perplexity compressors, so a side-by-side compares methods rather than models.

* :class:`LLMLinguaPeer`: LLMLingua (Jiang et al. 2023), question-agnostic: coarse document filter by
  perplexity, then iterative token-level pruning (``compress_prompt`` defaults).
* :class:`LongLLMLinguaPeer`: LongLLMLingua (Jiang et al. 2024), question-conditioned, configured as the
  llmlingua README configures it (``rank_method="longllmlingua"``, ``condition_in_question="after_condition"``,
  ``condition_compare=True``, ``reorder_context="sort"``, ``dynamic_context_compression_ratio=0.3``,
  ``context_budget="+100"``).

Both get contextzip's budget as ``target_token`` and ``concate_question=False`` (the output is the context only).
llmlingua counts ``target_token`` with the LM's own tokenizer and treats it as a soft target, so it may overshoot
a budget counted with tiktoken; the eval runner measures that as budget violations.

Requires ``pip install llmlingua==0.2.2``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from benchmarks.peers.base import PeerCompressor
from contextzip.tokens import TokenCounter
from contextzip.types import Document

logger = logging.getLogger(__name__)

_COMPRESSORS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _prompt_compressor(model_name_or_path: str, device_map: str) -> Any:
    """One llmlingua ``PromptCompressor`` per (model, device), shared by both peers."""
    from contextzip.causal_lm import converted_path
    from contextzip.tokens import seed_tiktoken_cache

    path = converted_path(model_name_or_path)
    key = (path, device_map)
    with _LOCK:
        if key not in _COMPRESSORS:
            try:
                from llmlingua import PromptCompressor
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError("llmlingua is not installed. Install it with: pip install llmlingua==0.2.2") from exc
            # llmlingua counts its report with tiktoken's cl100k_base; seed it so that works offline.
            seed_tiktoken_cache("cl100k_base")
            logger.info("Loading llmlingua PromptCompressor with %s on %s", path, device_map)
            compressor = PromptCompressor(model_name=path, device_map=device_map)
            compressor.model = _LegacyCacheModel(compressor.model)
            _COMPRESSORS[key] = compressor
        return _COMPRESSORS[key]


class _LegacyCacheModel:
    """llmlingua 0.2.2 was written for transformers 4: it slices and re-feeds the KV cache as a list of
    ``(key, value)`` pairs (``iterative_compress_prompt``), which raises ``ValueError: too many values to unpack``
    with transformers 5's ``Cache`` objects on any context over ``iterative_size`` (200) tokens. This wrapper
    converts the cache both ways and changes nothing else (same model, same forward pass)."""

    def __init__(self, model: Any) -> None:
        from contextzip.causal_lm import _cache_argument

        self._model = model
        self._cache_arg = _cache_argument(model)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, input_ids: Any = None, attention_mask: Any = None, past_key_values: Any = None,
                 use_cache: bool | None = None, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        from transformers import DynamicCache

        if past_key_values is not None and not hasattr(past_key_values, "get_seq_length"):
            past_key_values = DynamicCache(ddp_cache_data=[(k, v) for k, v in past_key_values],
                                           config=self._model.config)
        if past_key_values is not None:
            kwargs[self._cache_arg] = past_key_values
        out = self._model(input_ids=input_ids, attention_mask=attention_mask, use_cache=use_cache, **kwargs)
        cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
        legacy = tuple((layer.keys, layer.values) for layer in cache.layers) if cache is not None else None
        return SimpleNamespace(logits=out.logits, past_key_values=legacy)


class LLMLinguaPeer(PeerCompressor):
    """llmlingua's LLMLingua (question-agnostic) with the given causal LM.

    Args:
        model_name_or_path: "smollm2-135m" (contextzip's converted local copy) or any causal LM path / hub id.
        device_map: passed to llmlingua ("cpu", "cuda").
        token_counter, separator: how budgets are counted and documents joined for the runner.
    """

    name = "llmlingua"

    def __init__(self, model_name_or_path: str = "smollm2-135m", *, device_map: str = "cpu",
                 token_counter: str | TokenCounter | None = None, separator: str = "\n\n") -> None:
        super().__init__(token_counter=token_counter, separator=separator)
        self.model_name_or_path = model_name_or_path
        self.device_map = device_map
        self._compressor: Any = None

    def warm_up(self) -> None:
        if self._compressor is None:
            self._compressor = _prompt_compressor(self.model_name_or_path, self.device_map)

    def _options(self, question: str | None) -> dict[str, Any]:
        return {}

    def _compress_text(self, documents: Sequence[Document], question: str | None, target_tokens: int) -> str:
        self.warm_up()
        context = [d.text for d in documents if d.text.strip()]
        result = self._compressor.compress_prompt(
            context, target_token=target_tokens, concate_question=False, **self._options(question)
        )
        return str(result["compressed_prompt"]).strip()


class LongLLMLinguaPeer(LLMLinguaPeer):
    """llmlingua's LongLLMLingua (question-conditioned), configured as its README does; LLMLingua without a
    question."""

    name = "longllmlingua"

    def _options(self, question: str | None) -> dict[str, Any]:
        if not question or not question.strip():
            return {}
        return {
            "question": question,
            "rank_method": "longllmlingua",
            "condition_in_question": "after_condition",
            "condition_compare": True,
            "reorder_context": "sort",
            "dynamic_context_compression_ratio": 0.3,
            "context_budget": "+100",
        }
