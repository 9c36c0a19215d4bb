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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contextzip.integrations.endpoint import CompressingClient, CompressingEndpoint
from contextzip.integrations.messages import ChatOptions, CompressedMessages, compress_chat

if TYPE_CHECKING:
    from typing_extensions import Unpack


def compress_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    system: str | Sequence[Mapping[str, Any]] | None = None,
    **options: Unpack[ChatOptions],
) -> CompressedMessages:
    """Compress the context in Anthropic ``messages`` (and ``system``) to ``target_tokens`` or ``rate``.

    Returns :class:`~contextzip.integrations.messages.CompressedMessages`; send ``.messages`` and ``.system``.
    Arguments are those of :func:`contextzip.integrations.openai.compress_messages`, plus ``system``.
    """
    if system is not None and not isinstance(system, (str, list, tuple)):
        raise TypeError(f"system must be a str or a list of text blocks, but got {type(system).__name__}")
    return compress_chat(messages, format="anthropic", system=list(system) if isinstance(system, tuple) else system,
                         **options)


class _Messages(CompressingEndpoint):
    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        out = compress_messages(kwargs["messages"], system=kwargs.get("system"), **options)
        prepared = {**kwargs, "messages": out.messages}
        if "system" in kwargs:
            prepared["system"] = out.system
        return out, prepared


class CompressingAnthropic(CompressingClient):
    """An ``Anthropic`` / ``AsyncAnthropic`` client whose ``messages.create`` compresses context first.

    Arguments: see :class:`~contextzip.integrations.endpoint.CompressingClient`.
    """

    endpoint_path = ("messages",)
    endpoint_class = _Messages
    expected = "an anthropic.Anthropic or AsyncAnthropic client"


def wrap_anthropic(client: Any, **options: Any) -> CompressingAnthropic:
    """Wrap an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client; see :class:`CompressingAnthropic`."""
    return CompressingAnthropic(client, **options)
