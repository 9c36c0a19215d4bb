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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contextzip.integrations.endpoint import CompressingClient, CompressingEndpoint
from contextzip.integrations.messages import ChatOptions, CompressedMessages, compress_chat

if TYPE_CHECKING:
    from typing_extensions import Unpack


def compress_messages(messages: Sequence[Mapping[str, Any]], **options: Unpack[ChatOptions]) -> CompressedMessages:
    """Compress the context in OpenAI chat ``messages`` to ``target_tokens`` (or ``rate`` of its tokens).

    Args:
        messages: ``[{"role": ..., "content": str | [parts]}, ...]``; never mutated.
        **options: :class:`~contextzip.integrations.messages.ChatOptions`: ``target_tokens`` or ``rate``
            (exactly one), ``query``, ``documents``, ``compressor``, ``token_counter``.

    Returns:
        :class:`~contextzip.integrations.messages.CompressedMessages`: ``.messages`` to send, ``.result``
        (the :class:`~contextzip.CompressionResult`, ``None`` when there was no context) and token counts.
    """
    return compress_chat(messages, format="openai", **options)


class _Completions(CompressingEndpoint):
    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        out = compress_messages(kwargs["messages"], **options)
        return out, {**kwargs, "messages": out.messages}


class CompressingOpenAI(CompressingClient):
    """An ``OpenAI`` / ``AsyncOpenAI`` client whose ``chat.completions.create`` compresses context first.

    Everything else is the wrapped client's own (``client.models.list()``, ``client.embeddings`` ...). Arguments:
    see :class:`~contextzip.integrations.endpoint.CompressingClient`.
    """

    endpoint_path = ("chat", "completions")
    endpoint_class = _Completions
    expected = "an openai.OpenAI or AsyncOpenAI client"


def wrap_openai(client: Any, **options: Any) -> CompressingOpenAI:
    """Wrap an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client; see :class:`CompressingOpenAI`."""
    return CompressingOpenAI(client, **options)
