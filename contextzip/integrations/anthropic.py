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

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.compressors.base import BaseCompressor, DocumentsInput
from contextzip.integrations.messages import CompressedMessages, compress_chat, merge_options

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


class _Messages:
    def __init__(self, owner: CompressingAnthropic) -> None:
        self._owner = owner
        self._inner = owner._client.messages
        if inspect.iscoroutinefunction(self._inner.create):
            self.create = self._acreate  # type: ignore[method-assign]

    def _prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = merge_options(self._owner._defaults, kwargs.pop("contextzip", None))
        if "messages" not in kwargs:
            raise TypeError("create() needs messages=")
        out = compress_messages(kwargs["messages"], system=kwargs.get("system"), **options)
        logger.debug("contextzip: prompt %d -> %d tokens", out.prompt_tokens_before, out.prompt_tokens_after)
        if self._owner._on_compression is not None:
            self._owner._on_compression(out)
        prepared = {**kwargs, "messages": out.messages}
        if "system" in kwargs:
            prepared["system"] = out.system
        return prepared

    def create(self, **kwargs: Any) -> Any:
        """``messages.create`` with the context compressed first; ``contextzip={...}`` overrides per call."""
        return self._inner.create(**self._prepare(kwargs))

    async def _acreate(self, **kwargs: Any) -> Any:
        prepared = await asyncio.to_thread(self._prepare, kwargs)
        return await self._inner.create(**prepared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


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
        resolve_budget(1, target_tokens, rate)
        if on_compression is not None and not callable(on_compression):
            raise TypeError(f"on_compression must be callable, but got {type(on_compression).__name__}")
        self._client = client
        self._defaults: dict[str, Any] = {"target_tokens": target_tokens, "rate": rate, "compressor": compressor,
                                          "token_counter": token_counter}
        self._on_compression = on_compression
        self.messages = _Messages(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def wrap_anthropic(client: Any, **options: Any) -> CompressingAnthropic:
    """Wrap an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client; see :class:`CompressingAnthropic`."""
    return CompressingAnthropic(client, **options)

