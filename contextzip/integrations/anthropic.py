"""Compress the context of Anthropic Messages before the API call, and a thin wrapper for the ``anthropic`` client.

::

    from contextzip.integrations.anthropic import compress_messages, wrap_anthropic
    out = compress_messages(messages, system=system, target_tokens=500)
    client.messages.create(model=..., max_tokens=..., system=out.system, messages=out.messages)

    client = wrap_anthropic(anthropic.Anthropic(), target_tokens=500)   # compresses inside messages.create

Context is what :mod:`contextzip.integrations.messages` describes: ``document`` blocks with a text source (their
``title`` guides the query-guided compressor), text blocks marked ``"context": True`` and ``<context>`` blocks
(in ``system`` too). Instructions and the user's question are never compressed. Dropped document blocks are
removed; kept ones keep their title, citations setting and cache control.
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
    system: str | Sequence[Mapping[str, Any]] | None = None,
    target_tokens: int | None = None,
    rate: float | None = None,
    query: str | None = None,
    documents: DocumentsInput | None = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
) -> CompressedMessages:
    """Compress the context in Anthropic ``messages`` (and ``system``) to ``target_tokens`` or ``rate``.

    Returns :class:`~contextzip.integrations.messages.CompressedMessages`; send ``.messages`` and ``.system``.
    Arguments are those of :func:`contextzip.integrations.openai.compress_messages`, plus ``system``.
    """
    if system is not None and not isinstance(system, (str, list, tuple)):
        raise TypeError(f"system must be a str or a list of text blocks, but got {type(system).__name__}")
    return compress_chat(messages, format="anthropic", system=list(system) if isinstance(system, tuple) else system,
                         target_tokens=target_tokens, rate=rate, query=query, documents=documents,
                         compressor=compressor, token_counter=token_counter)


class _Messages(CompressingEndpoint):
    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        out = compress_messages(kwargs["messages"], system=kwargs.get("system"), **options)
        prepared = {**kwargs, "messages": out.messages}
        if "system" in kwargs:
            prepared["system"] = out.system
        return out, prepared


class CompressingAnthropic:
    """An ``Anthropic`` / ``AsyncAnthropic`` client whose ``messages.create`` compresses context first."""

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
        if not hasattr(client, "messages") or not hasattr(client.messages, "create"):
            raise TypeError(f"client must be an anthropic.Anthropic or AsyncAnthropic client, but got "
                            f"{type(client).__name__}")
        self._defaults = client_defaults(target_tokens, rate, compressor, token_counter, on_compression)
        self._client = client
        self._on_compression = on_compression
        self.messages = _Messages(client.messages, self._defaults, on_compression)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def wrap_anthropic(client: Any, **options: Any) -> CompressingAnthropic:
    """Wrap an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client; see :class:`CompressingAnthropic`."""
    return CompressingAnthropic(client, **options)

