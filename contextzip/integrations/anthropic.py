"""Compress the context of Anthropic Messages before the API call, and a thin wrapper for the ``anthropic`` client.

::

    from contextzip.integrations.anthropic import compress_messages, wrap_anthropic
    out = compress_messages(messages, system=system, target_tokens=500)
    client.messages.create(model=..., max_tokens=..., system=out.system, messages=out.messages)

    client = wrap_anthropic(anthropic.Anthropic(), target_tokens=500)   # compresses inside messages.*

Context is what :mod:`contextzip.integrations.messages` describes: ``document`` blocks with a text source (their
``title`` guides the query-guided compressor), text blocks marked ``"context": True`` and ``<context>`` blocks
(in ``system`` too), and the same inside ``tool_result`` blocks. Instructions and the user's question are never compressed. Dropped document blocks are
removed; kept ones keep their title, citations setting and cache control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contextzip.integrations.endpoint import (
    HOW_INSTEAD,
    CompressingClient,
    CompressingEndpoint,
    UncoveredCallError,
    join_marked,
    mark_unmarked,
)
from contextzip.integrations.messages import CONTEXT_BLOCK, ChatOptions, CompressedMessages, compress_chat

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CompressingAnthropic", "UncoveredCallError", "compress_messages", "wrap_anthropic"]


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


# -- tool results: their text goes through compression as parts of the user turn, then back into the blocks --------

_TOOL = "_contextzip_tool_result"


def _open_tool_results(messages: Sequence[Mapping[str, Any]]) -> list[Any]:
    """A copy of ``messages`` with each ``tool_result`` block replaced by a placeholder followed by its content
    blocks (string content: one text block), so the context in them is found and compressed."""
    out = []
    for msg in messages:
        content = msg.get("content")
        if not isinstance(content, list) or not any(isinstance(b, dict) and b.get("type") == "tool_result"
                                                    for b in content):
            out.append(msg)
            continue
        blocks: list[Any] = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                blocks.append({"type": _TOOL, "block": {k: v for k, v in block.items() if k != "content"},
                               "string": isinstance(inner, str)})
                inner = [{"type": "text", "text": inner}] if isinstance(inner, str) else list(inner or [])
                blocks.extend({**b, _TOOL: True} if isinstance(b, dict) else b for b in inner)
            else:
                blocks.append(block)
        out.append({**msg, "content": blocks})
    return out


def _close_tool_results(messages: list[Any]) -> list[Any]:
    """The inverse of :func:`_open_tool_results` on compressed messages (a dropped result keeps an empty one)."""
    for msg in messages:
        content = msg.get("content")
        if not isinstance(content, list) or not any(isinstance(b, dict) and b.get("type") == _TOOL for b in content):
            continue
        blocks: list[Any] = []
        current: list[Any] | None = None
        for block in content:
            if isinstance(block, dict) and block.get("type") == _TOOL:
                current = []
                blocks.append({**block["block"], "content": current, "_string": block["string"]})
            elif isinstance(block, dict) and block.pop(_TOOL, False) and current is not None:
                current.append(block)
            else:
                blocks.append(block)
        for block in blocks:
            if isinstance(block, dict) and "_string" in block and block.pop("_string"):
                block["content"] = "\n\n".join(b.get("text", "") for b in block["content"])
        msg["content"] = blocks
    return messages


def _question(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The latest user text outside tool results and context: the query when tool results are present."""
    for msg in reversed(messages):
        content = msg.get("content")
        if msg.get("role") != "user":
            continue
        if isinstance(content, str):
            text = CONTEXT_BLOCK.sub(" ", content).strip()
        else:
            text = "\n".join(CONTEXT_BLOCK.sub(" ", b["text"]).strip() for b in content or []
                             if isinstance(b, dict) and b.get("type") == "text" and not b.get("context")
                             and isinstance(b.get("text"), str)).strip()
        if text:
            return text
    return None


class _Messages(CompressingEndpoint):
    """``messages``: ``create``, ``parse``, ``stream``, ``count_tokens`` and their raw / streaming-response
    forms; ``batches.create`` and ``tool_runner`` raise :class:`UncoveredCallError`."""

    name = "messages"
    compressing = ("create", "parse", "stream", "count_tokens")
    uncovered = {"tool_runner": "contextzip does not compress messages.tool_runner()" + HOW_INSTEAD}
    guarded = {"batches": {"create": "contextzip does not compress messages.batches.create(); compress each "
                                     "request's messages with compress_messages() first"}}

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        if "messages" not in kwargs:
            raise TypeError(f"{self.name} needs messages=")
        messages = _open_tool_results(kwargs["messages"])
        if messages != list(kwargs["messages"]) and options.get("query") is None:
            options = {**options, "query": _question(kwargs["messages"])}
        out = compress_messages(messages, system=kwargs.get("system"), **options)
        prepared = {**kwargs, "messages": _close_tool_results(join_marked(out.messages))}
        if "system" in kwargs:
            prepared["system"] = out.system
        return out, prepared

    def _mark(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        messages = _open_tool_results(kwargs["messages"])
        marked = mark_unmarked(messages)
        for msg in marked:
            if isinstance(msg.get("content"), list):
                msg["content"] = [{**b, "context": b.get("context", True)}
                                  if isinstance(b, dict) and b.get(_TOOL) and b.get("type") == "text" else b
                                  for b in msg["content"]]
        return {**kwargs, "messages": marked}


class CompressingAnthropic(CompressingClient):
    """An ``Anthropic`` / ``AsyncAnthropic`` client whose prompt-sending calls compress context first.

    Covered, sync and async, each also under ``with_raw_response`` and ``with_streaming_response``:
    ``messages.create / parse / stream / count_tokens`` and the same under ``beta.messages`` (document blocks,
    marked text blocks, ``<context>`` blocks in ``system`` and in messages, and the same inside ``tool_result``
    blocks). ``messages.batches.create`` and ``tool_runner`` raise
    :class:`~contextzip.integrations.endpoint.UncoveredCallError`; ``client.unwrapped`` is the client itself.
    Arguments: see :class:`~contextzip.integrations.endpoint.CompressingClient`.
    """

    endpoints = {("messages",): _Messages, ("beta", "messages"): _Messages}
    expected = "an anthropic.Anthropic or AsyncAnthropic client"


def wrap_anthropic(client: Any, **options: Any) -> CompressingAnthropic:
    """Wrap an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client; see :class:`CompressingAnthropic`."""
    return CompressingAnthropic(client, **options)
