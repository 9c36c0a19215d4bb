"""Compress the context of OpenAI chat messages before the API call, and a thin wrapper for the ``openai`` client.

::

    from openai import OpenAI
    from contextzip.integrations.openai import compress_messages, wrap_openai

    out = compress_messages(messages, target_tokens=500)          # new messages + stats; inputs untouched
    client = wrap_openai(OpenAI(), target_tokens=500)            # compresses inside chat.completions.create
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)

See :mod:`contextzip.integrations.messages` for what counts as context (never system instructions or the
user's question). The wrapper needs no import of ``openai`` itself: it wraps the client object it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contextzip.compressors.base import BaseCompressor, DocumentsInput
from contextzip.integrations.messages import (
    CompressedMessages,
    CompressingEndpoint,
    client_defaults,
    compress_chat,
)

logger = logging.getLogger(__name__)


def compress_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    target_tokens: int | None = None,
    rate: float | None = None,
    query: str | None = None,
    documents: DocumentsInput | None = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
) -> CompressedMessages:
    """Compress the context in OpenAI chat ``messages`` to ``target_tokens`` (or ``rate`` of its tokens).

    Args:
        messages: ``[{"role": ..., "content": str | [parts]}, ...]``; never mutated.
        target_tokens / rate: the budget for all the context together (exactly one).
        query: what the context should answer; defaults to the last user turn's own text.
        documents: documents to compress and insert, as a ``<context>`` block, at the start of the last user turn.
        compressor: a registry name or a compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>".

    Returns:
        :class:`~contextzip.integrations.messages.CompressedMessages`: ``.messages`` to send, ``.result``
        (the :class:`~contextzip.CompressionResult`, ``None`` when there was no context) and token counts.
    """
    return compress_chat(messages, format="openai", target_tokens=target_tokens, rate=rate, query=query,
                         documents=documents, compressor=compressor, token_counter=token_counter)


class _Completions(CompressingEndpoint):
    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        out = compress_messages(kwargs["messages"], **options)
        return out, {**kwargs, "messages": out.messages}


class _Chat:
    def __init__(self, owner: CompressingOpenAI) -> None:
        self._inner = owner._client.chat
        self.completions = _Completions(owner._client.chat.completions, owner._defaults, owner._on_compression)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CompressingOpenAI:
    """An ``OpenAI`` / ``AsyncOpenAI`` client whose ``chat.completions.create`` compresses context first.

    Everything else is the wrapped client's own (``client.models.list()``, ``client.embeddings`` ...).
    """

    def __init__(
        self,
        client: Any,
        *,
        target_tokens: int | None = None,
        rate: float | None = None,
        compressor: str | BaseCompressor = "query-guided",
        token_counter: str | None = None,
        on_compression: Callable[[CompressedMessages], None] | None = None,
    ) -> None:
        if not hasattr(client, "chat") or not hasattr(client.chat, "completions"):
            raise TypeError(f"client must be an openai.OpenAI or AsyncOpenAI client, but got {type(client).__name__}")
        self._defaults = client_defaults(target_tokens, rate, compressor, token_counter, on_compression)
        self._client = client
        self._on_compression = on_compression
        self.chat = _Chat(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"CompressingOpenAI({self._client!r}, {self._defaults})"


def wrap_openai(client: Any, **options: Any) -> CompressingOpenAI:
    """Wrap an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client; see :class:`CompressingOpenAI`."""
    return CompressingOpenAI(client, **options)
