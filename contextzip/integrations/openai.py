"""Compress the context of OpenAI chat messages before the API call, and a thin wrapper for the ``openai`` client.

::

    from openai import OpenAI
    from contextzip.integrations.openai import compress_messages, wrap_openai

    out = compress_messages(messages, target_tokens=500)          # new messages + stats; inputs untouched
    client = wrap_openai(OpenAI(), target_tokens=500)            # compresses in chat.completions and responses
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)

See :mod:`contextzip.integrations.messages` for what counts as context (never system instructions or the
user's question). The wrapper needs no import of ``openai`` itself: it wraps the client object it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from contextzip.integrations.endpoint import (
    HOW_INSTEAD,
    JOINED,
    CompressingClient,
    CompressingEndpoint,
    UncoveredCallError,
    join_marked,
    mark_turn,
    mark_unmarked,
)
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
    """``chat.completions``: ``create``, ``parse``, ``stream`` and their raw / streaming-response forms."""

    name = "chat.completions"
    compressing = ("create", "parse", "stream")

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        if "messages" not in kwargs:
            raise TypeError(f"{self.name} needs messages=")
        out = compress_messages(kwargs["messages"], **options)
        return out, {**kwargs, "messages": join_marked(out.messages)}


# -- the Responses API: input items <-> chat messages -------------------------------------------------------------

_TEXT_TYPES = ("input_text", "output_text")
_ORIGINAL_TYPE = "_contextzip_type"


def _to_chat_content(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    return [{**p, "type": "text", _ORIGINAL_TYPE: p["type"]}
            if isinstance(p, dict) and p.get("type") in _TEXT_TYPES and isinstance(p.get("text"), str) else p
            for p in content]


def _from_chat_content(content: Any, role: str) -> Any:
    if not isinstance(content, list):
        return content
    out = []
    for p in content:
        if isinstance(p, dict) and p.get("type") == "text":
            p = dict(p)
            p["type"] = p.pop(_ORIGINAL_TYPE, "output_text" if role == "assistant" else "input_text")
        out.append(p)
    return out


def input_as_messages(items: Any) -> list[dict[str, Any]]:
    """Responses API ``input`` (a string or a list of input items) as chat messages, one per item: message
    items keep their role and text parts, a ``function_call_output`` becomes a ``tool`` message, any other item
    a placeholder without content."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise TypeError(f"responses input must be a str or a list of input items, but got {type(items).__name__}")
    messages = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("role"), str) and item.get("type", "message") == "message":
            messages.append({"role": item["role"], "content": _to_chat_content(item.get("content"))})
        elif isinstance(item, dict) and item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": _to_chat_content(item.get("output"))})
        else:
            messages.append({"role": "_item", "content": None})
    return messages


def messages_as_input(items: Any, messages: list[dict[str, Any]]) -> Any:
    """The ``input`` of :func:`input_as_messages` with each item's text taken from the compressed ``messages``."""
    if isinstance(items, str):
        return messages[0]["content"]
    out = []
    for item, msg in zip(items, messages, strict=True):
        if msg["role"] == "_item":
            out.append(item)
        elif msg["role"] == "tool" and item.get("type") == "function_call_output":
            out.append({**item, "output": _from_chat_content(msg["content"], "tool")})
        else:
            out.append({**item, "content": _from_chat_content(msg["content"], item["role"])})
    return out


class _Responses(CompressingEndpoint):
    """``responses``: ``create``, ``parse``, ``stream`` (``input`` items and ``instructions``) and their raw /
    streaming-response forms; ``input_tokens.count`` counts the compressed input."""

    name = "responses"
    compressing = ("create", "parse", "stream")
    uncovered = {"compact": "contextzip does not compress client.responses.compact()" + HOW_INSTEAD,
                 "connect": "contextzip does not compress client.responses.connect() (realtime)" + HOW_INSTEAD}

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        if "input" not in kwargs:
            if kwargs.get("previous_response_id") or kwargs.get("conversation") or kwargs.get("prompt"):
                out = compress_chat([], format="openai", **{k: v for k, v in options.items() if k != "documents"})
                return out, kwargs
            raise TypeError("responses needs input=")
        messages = input_as_messages(kwargs["input"])
        instructions = kwargs.get("instructions")
        out = compress_chat(messages, format="openai", system=instructions, **options)
        prepared = {**kwargs, "input": messages_as_input(kwargs["input"], join_marked(out.messages))}
        if instructions is not None:
            prepared["instructions"] = out.system
        return out, prepared

    def _mark(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        items = kwargs.get("input")
        if isinstance(items, str):
            return {**kwargs, "input": [{"role": "user", "content": mark_turn(items)}]}
        marked = mark_unmarked(input_as_messages(items))
        return {**kwargs, "input": messages_as_input(items, marked)}

    def __getattr__(self, name: str) -> Any:
        if name == "input_tokens":
            return _InputTokens(getattr(self._inner, name), self._wrapping)
        return super().__getattr__(name)


class _InputTokens(_Responses):
    name = "responses.input_tokens"
    compressing = ("count",)
    uncovered = {}


class _Legacy(CompressingEndpoint):
    """``completions`` (the legacy API): ``<context>`` blocks in a string ``prompt`` are compressed."""

    name = "completions"

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        prompt = kwargs.get("prompt")
        marked = isinstance(prompt, list) and all(isinstance(p, dict) and p.get(JOINED) for p in prompt)
        if not (isinstance(prompt, str) or marked):
            raise UncoveredCallError("contextzip compresses a completions prompt only when it is one string, but "
                                     f"got {type(prompt).__name__}" + HOW_INSTEAD)
        out = compress_messages([{"role": "user", "content": prompt}], **options)
        return out, {**kwargs, "prompt": join_marked(out.messages)[0]["content"]}

    def _mark(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "prompt": mark_turn(kwargs["prompt"])}


class CompressingOpenAI(CompressingClient):
    """An ``OpenAI`` / ``AsyncOpenAI`` client whose prompt-sending calls compress context first.

    Covered, sync and async, each also under ``with_raw_response`` and ``with_streaming_response``:
    ``chat.completions.create / parse / stream`` (and ``beta.chat.completions``), ``responses.create / parse /
    stream`` (and ``beta.responses``) and ``responses.input_tokens.count`` (``input`` items: message text parts,
    ``function_call_output`` strings, and ``instructions``), and ``completions.create`` with a string prompt;
    ``client.with_raw_response`` / ``with_streaming_response`` and ``with_options()`` / ``copy()`` stay wrapped.
    ``responses.compact`` and ``responses.connect`` raise
    :class:`~contextzip.integrations.endpoint.UncoveredCallError`. Everything else is the wrapped client's own
    (``client.models.list()``, ``client.embeddings`` ...); ``client.unwrapped`` is the client itself. Arguments:
    see :class:`~contextzip.integrations.endpoint.CompressingClient`.
    """

    endpoints = {("chat", "completions"): _Completions, ("responses",): _Responses,
                 ("beta", "chat", "completions"): _Completions, ("beta", "responses"): _Responses,
                 ("completions",): _Legacy}
    expected = "an openai.OpenAI or AsyncOpenAI client"


def wrap_openai(client: Any, **options: Any) -> CompressingOpenAI:
    """Wrap an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client; see :class:`CompressingOpenAI`."""
    return CompressingOpenAI(client, **options)
