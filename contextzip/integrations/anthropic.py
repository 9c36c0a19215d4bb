"""Compress the context of Anthropic Messages before the API call.

::

    from contextzip.integrations.anthropic import compress_messages
    out = compress_messages(messages, system=system, target_tokens=500)
    client.messages.create(model=..., max_tokens=..., system=out.system, messages=out.messages)

Context is what :mod:`contextzip.integrations.messages` describes: ``document`` blocks with a text source (their
``title`` guides the query-guided compressor), text blocks marked ``"context": True`` and ``<context>`` blocks
(in ``system`` too). Instructions and the user's question are never compressed. Dropped document blocks are
removed; kept ones keep their title, citations setting and cache control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contextzip.compressors.base import BaseCompressor, DocumentsInput
from contextzip.integrations.messages import CompressedMessages, compress_chat


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
