"""The one-call entry points: ``compress(documents, query, target_tokens=...)`` and ``compress_prompt(instruction=...,
context=..., question=...)``, which compresses only the context and returns the assembled prompt."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contextzip.compressors.base import BaseCompressor, DocumentsInput, as_documents
from contextzip.pricing import Saving, estimate_saving
from contextzip.registry import load_compressor
from contextzip.types import CompressionResult

_DEFAULTS: dict[tuple[str, Any], BaseCompressor] = {}
_LOCK = threading.Lock()


def get_compressor(name: str = "query-guided", token_counter: Any = None) -> BaseCompressor:
    """A shared, lazily built compressor per (name, token counter), so repeated calls reuse loaded models."""
    key = (name, token_counter)
    with _LOCK:
        if key not in _DEFAULTS:
            kwargs = {} if token_counter is None else {"token_counter": token_counter}
            _DEFAULTS[key] = load_compressor(name, **kwargs)
        return _DEFAULTS[key]


def resolve_compressor(compressor: str | BaseCompressor, token_counter: Any = None) -> BaseCompressor:
    """``compressor`` itself when it is a compressor instance, else the shared one for that registry name."""
    if isinstance(compressor, BaseCompressor):
        return compressor
    if isinstance(compressor, str):
        return get_compressor(compressor, token_counter)
    raise TypeError(f"compressor must be a registry name or a compressor, but got {type(compressor).__name__}")


def compress(
    documents: DocumentsInput,
    query: str | None = None,
    target_tokens: int | None = None,
    rate: float | None = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
) -> CompressionResult:
    """Compress retrieved context to a token budget, keeping what ``query`` needs.

    Args:
        documents: a str, a :class:`~contextzip.Document`, or a list of str / Document / {"text", "id", "metadata"}.
        query: the question the context should answer; ``None`` uses query-free importance.
        target_tokens: the budget in tokens (exclusive with ``rate``).
        rate: the budget as a fraction of the input's tokens, in (0, 1] (exclusive with ``target_tokens``).
        compressor: a registry name (see ``contextzip models`` / ``contextzip.registry.compressor_names()``)
            or a compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>".

    Returns:
        A :class:`~contextzip.CompressionResult`; ``str(result)`` is the compressed text.

    Example:
        >>> from contextzip import compress
        >>> result = compress(["Paris is the capital of France.", "Bananas are yellow."],
        ...                   query="What is the capital of France?", target_tokens=8)
        >>> result.compressed_tokens <= 8
        True
    """
    comp = resolve_compressor(compressor, token_counter)
    return comp.compress(documents, query, target_tokens=target_tokens, rate=rate)


PROMPT_TEMPLATE = "{instruction}\n\n<context>\n{context}\n</context>\n\nQuestion: {question}"


@dataclass(frozen=True)
class CompressedPrompt:
    """A prompt assembled from an instruction, the compressed context and a question, and the numbers.

    ``prompt`` is what to send; ``result`` the context's :class:`~contextzip.CompressionResult`;
    ``prompt_tokens_before`` / ``prompt_tokens_after`` count the whole prompt with the full and the compressed
    context.
    """

    prompt: str
    result: CompressionResult
    prompt_tokens_before: int
    prompt_tokens_after: int

    @property
    def tokens_saved(self) -> int:
        return self.prompt_tokens_before - self.prompt_tokens_after

    def estimated_saving(self, model: str, *, requests: int = 1, prices: Mapping[str, float] | None = None) -> Saving:
        """What the saved tokens are worth on ``model`` (:func:`contextzip.pricing.estimate_saving`)."""
        return estimate_saving(self.tokens_saved, model, requests=requests, prices=prices)


def _assemble(template: str, instruction: str | None, context: str, question: str | None) -> str:
    """``template`` filled in; a missing instruction or question drops its line(s) from the default template."""
    if template == PROMPT_TEMPLATE:
        parts = [instruction, f"<context>\n{context}\n</context>", f"Question: {question}" if question else None]
        return "\n\n".join(p for p in parts if p)
    return template.format(instruction=instruction or "", context=context, question=question or "")


def compress_prompt(
    *,
    context: DocumentsInput,
    question: str | None = None,
    instruction: str | None = None,
    target_tokens: int | None = None,
    rate: float | None = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
    template: str = PROMPT_TEMPLATE,
) -> CompressedPrompt:
    """Compress only ``context`` (to ``target_tokens`` or ``rate`` of its tokens, guided by ``question``) and
    return the assembled prompt; the instruction and the question are never compressed.

    Args:
        context: the documents (anything :func:`compress` takes).
        question / instruction: the question (also the compression query) and the instructions, kept verbatim.
        template: how the parts are put together, with ``{instruction}``, ``{context}`` and ``{question}``;
            the default is instruction, a ``<context>`` block, then ``Question: ...``.

    Example:
        >>> from contextzip.api import compress_prompt
        >>> out = compress_prompt(instruction="Answer briefly.", question="What is the capital of France?",
        ...                       context=["Paris is the capital of France.", "Bananas are yellow."],
        ...                       target_tokens=8, compressor="bm25-sentences")
        >>> out.prompt.startswith("Answer briefly.") and out.prompt.endswith("Question: What is the capital of France?")
        True
    """
    if instruction is not None and not isinstance(instruction, str):
        raise TypeError(f"instruction must be a str or None, but got {type(instruction).__name__}")
    if question is not None and not isinstance(question, str):
        raise TypeError(f"question must be a str or None, but got {type(question).__name__}")
    if not isinstance(template, str) or "{context}" not in template:
        raise ValueError(f"template must be a str containing {{context}}, but got {template!r}")
    comp = resolve_compressor(compressor, token_counter)
    result = comp.compress(context, question, target_tokens=target_tokens, rate=rate)
    full = "\n\n".join(d.text for d in as_documents(context))
    before = comp.token_counter.count(_assemble(template, instruction, full, question))
    prompt = _assemble(template, instruction, result.text, question)
    return CompressedPrompt(prompt, result, before, comp.token_counter.count(prompt))
