"""SDK client wrappers that compress first: the machinery behind ``wrap_openai`` and ``wrap_anthropic``.

A :class:`CompressingClient` wraps an SDK client and mounts :class:`CompressingEndpoint` objects in place of the
client's own (``client.chat.completions`` and ``client.responses`` for OpenAI, ``client.messages`` for
Anthropic). On an endpoint, every method that sends a prompt (``create``, ``parse``, ``stream``, listed in
``compressing``) compresses the request's context (see :mod:`contextzip.integrations.messages`) and then calls
the real one, and so do the same methods under ``with_raw_response`` and ``with_streaming_response``, sync and
async. A method that sends a prompt but is not covered (``uncovered``) raises :class:`UncoveredCallError` with
what to do instead, never a silent bypass. Everything else is the wrapped client's own. Neither SDK is imported:
the wrappers work on the object given.

A request with no marked context is handled by the client's ``unmarked`` policy: ``"warn"`` (the default) sends
it unchanged and logs one WARNING per client; ``"compress"`` treats the last user turn (all its paragraphs but
the last, which is taken as the question) and every tool result as context; ``"pass"`` sends it unchanged
silently.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.compressors.base import BaseCompressor
from contextzip.errors import ContextZipError
from contextzip.integrations.messages import CompressedMessages, check_options

logger = logging.getLogger(__name__)

UNMARKED_POLICIES = ("warn", "compress", "pass")
JOINED = "_contextzip_joined"   # a text part made from string content, joined back into a string after compression
RAW_VIEWS = ("with_raw_response", "with_streaming_response")
HOW_INSTEAD = "; send it through client.unwrapped (uncompressed) or compress first with compress_messages()"


class UncoveredCallError(ContextZipError, NotImplementedError):
    """An SDK method that sends a prompt, which the compressing wrapper does not compress."""


def merge_options(defaults: Mapping[str, Any], overrides: Any) -> dict[str, Any]:
    """A wrapper's defaults updated with per-call ``contextzip={...}`` options (a per-call budget replaces both
    default budget fields)."""
    overrides = check_options(overrides)
    options = {**defaults, **overrides}
    if "target_tokens" in overrides or "rate" in overrides:
        options["target_tokens"] = overrides.get("target_tokens")
        options["rate"] = overrides.get("rate")
    return options


# -- the "compress" policy: mark the user turn and the tool results as context ----------------------------------

def _text_part(text: str, context: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": text, JOINED: True}
    if context:
        part["context"] = True
    return part


def mark_turn(content: Any) -> Any:
    """``content`` of a user turn with every paragraph (string content) or text part but the last marked as
    context; string content becomes parts that :func:`join_marked` turns back into a string."""
    if isinstance(content, str):
        paragraphs = content.split("\n\n")
        if len(paragraphs) < 2:
            return content
        return [_text_part(p, bool(p.strip())) for p in paragraphs[:-1]] + [_text_part(paragraphs[-1], False)]
    if isinstance(content, list):
        texts = [i for i, p in enumerate(content) if isinstance(p, dict) and p.get("type") == "text"]
        return [{**p, "context": p.get("context", True)} if i in texts[:-1] else p for i, p in enumerate(content)]
    return content


def mark_all(content: Any) -> Any:
    """``content`` (a tool result) with all its text marked as context."""
    if isinstance(content, str):
        return [_text_part(content, True)] if content.strip() else content
    if isinstance(content, list):
        return [{**p, "context": p.get("context", True)} if isinstance(p, dict) and p.get("type") == "text" else p
                for p in content]
    return content


def mark_unmarked(messages: Sequence[Mapping[str, Any]], tool_roles: Sequence[str] = ("tool",)) -> list[Any]:
    """A copy of ``messages`` whose last user turn (:func:`mark_turn`) and tool messages are marked context."""
    msgs = copy.deepcopy(list(messages))
    last_user = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i].get("role") == "user"), None)
    for i, msg in enumerate(msgs):
        if i == last_user:
            msg["content"] = mark_turn(msg.get("content"))
        elif msg.get("role") in tool_roles:
            msg["content"] = mark_all(msg.get("content"))
    return msgs


def join_marked(messages: list[Any]) -> list[Any]:
    """``messages`` (changed in place and returned) with content made by :func:`mark_turn` a string again."""
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list) or not content:
            continue
        if all(isinstance(p, dict) and p.get(JOINED) for p in content):
            msg["content"] = "\n\n".join(p["text"] for p in content)
        else:
            for p in content:
                if isinstance(p, dict):
                    p.pop(JOINED, None)
    return messages


# -- endpoints ---------------------------------------------------------------------------------------------------

@dataclass
class Wrapping:
    """What every endpoint of one wrapped client shares: options, callback, policy, and the warned-once flag."""

    defaults: dict[str, Any]
    on_compression: Callable[[CompressedMessages], None] | None
    unmarked: str
    is_async: bool
    warned: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def warn_once(self, endpoint: str) -> None:
        with self.lock:
            if self.warned:
                return
            self.warned = True
        logger.warning("contextzip: a %s request had no marked context (no <context> block, context part, "
                       "document block or documents=), so it was sent uncompressed. Mark the context, or wrap the "
                       "client with unmarked='compress' (the user turn and tool results as context) or "
                       "unmarked='pass' (no warning). This warning is logged once per client.", endpoint)


def _is_async(method: Any) -> bool:
    """Whether a client method belongs to an async client. The SDKs decorate ``create`` with a plain function
    (``openai``'s ``required_args``), so the coroutine function is found under its ``__wrapped__`` chain."""
    return inspect.iscoroutinefunction(method) or inspect.iscoroutinefunction(inspect.unwrap(method))


class _Deferred:
    """What an async client's method that is not a coroutine function returns: awaitable (the SDKs' decorated
    ``create`` methods, which return a coroutine) and an async context manager (``stream``,
    ``with_streaming_response``), with the compression run in a worker thread either way, never on the event
    loop."""

    def __init__(self, prepare: Callable[[], dict[str, Any]], method: Callable[..., Any]) -> None:
        self._prepare = prepare
        self._method = method
        self._inner: Any = None

    def __await__(self) -> Any:
        return self._call().__await__()

    async def _call(self) -> Any:
        result = self._method(**await asyncio.to_thread(self._prepare))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def __aenter__(self) -> Any:
        self._inner = self._method(**await asyncio.to_thread(self._prepare))
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


def _refuse(message: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise UncoveredCallError(message)
    return refuse


class _Guard:
    """``inner`` whose methods named in ``refused`` raise :class:`UncoveredCallError`; the rest is its own."""

    def __init__(self, inner: Any, refused: Mapping[str, str]) -> None:
        self._inner = inner
        self._refused = refused

    def __getattr__(self, name: str) -> Any:
        if name in self._refused:
            return _refuse(self._refused[name])
        return getattr(self._inner, name)


class CompressingEndpoint:
    """An SDK endpoint (``chat.completions``, ``responses``, ``messages``) whose prompt-sending methods compress
    the context first.

    Subclasses say how one request is compressed and rebuilt (``_compress``), how its context is marked under
    ``unmarked="compress"`` (``_mark``), which methods compress (``compressing``), which methods that send a
    prompt are refused (``uncovered``: name -> message) and which sub-resources have refused methods
    (``guarded``: name -> {method: message}). For an async client, a coroutine method compresses in a worker
    thread and awaits the wrapped call.
    """

    name = "chat"
    compressing: tuple[str, ...] = ("create",)
    uncovered: Mapping[str, str] = {}
    guarded: Mapping[str, Mapping[str, str]] = {}

    def __init__(self, inner: Any, wrapping: Wrapping) -> None:
        self._inner = inner
        self._wrapping = wrapping

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        """The compressed messages and the keyword arguments to send on."""
        raise NotImplementedError

    def _mark(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with the user turn and tool results marked as context (the ``"compress"`` policy)."""
        return {**kwargs, "messages": mark_unmarked(kwargs["messages"])}

    def _prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        wrapping = self._wrapping
        options = merge_options(wrapping.defaults, kwargs.pop("contextzip", None))
        out, prepared = self._compress(kwargs, options)
        if out.result is None:
            if wrapping.unmarked == "compress":
                out, prepared = self._compress(self._mark(kwargs), options)
            elif wrapping.unmarked == "warn":
                wrapping.warn_once(self.name)
        if out.result is None:
            logger.debug("contextzip: no context in the %s request; sent unchanged", self.name)
        else:
            logger.debug("contextzip: prompt %d -> %d tokens", out.prompt_tokens_before, out.prompt_tokens_after)
        if wrapping.on_compression is not None:
            wrapping.on_compression(out)
        return prepared

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(method):
            async def acall(**kwargs: Any) -> Any:
                return await method(**await asyncio.to_thread(self._prepare, kwargs))
            return acall
        if self._wrapping.is_async:
            return lambda **kwargs: _Deferred(lambda: self._prepare(kwargs), method)
        return lambda **kwargs: method(**self._prepare(kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self.compressing:
            return self._wrap(getattr(self._inner, name))
        if name in RAW_VIEWS:
            return type(self)(getattr(self._inner, name), self._wrapping)
        if name in self.uncovered:
            return _refuse(self.uncovered[name])
        if name in self.guarded:
            return _Guard(getattr(self._inner, name), self.guarded[name])
        return getattr(self._inner, name)


class _Namespace:
    """``inner`` with some attributes replaced (``replaced``: name -> value); every other one is ``inner``'s."""

    def __init__(self, inner: Any, replaced: Mapping[str, Any]) -> None:
        self._inner = inner
        for name, value in replaced.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _mount(inner: Any, endpoints: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """The replacements of ``inner``'s attributes so that each ``path`` (one name or more) holds its endpoint."""
    heads: dict[str, dict[tuple[str, ...], Any]] = {}
    for (head, *rest), endpoint in endpoints.items():
        heads.setdefault(head, {})[tuple(rest)] = endpoint
    replaced = {}
    for head, below in heads.items():
        if () in below:
            replaced[head] = below[()]
        else:
            child = getattr(inner, head)
            replaced[head] = _Namespace(child, _mount(child, below))
    return replaced


def _resolve(client: Any, path: Sequence[str]) -> Any:
    inner = client
    for name in path:
        inner = getattr(inner, name, None)
    return inner


class CompressingClient:
    """An SDK client whose prompt-sending endpoints compress context first; the rest is the client's own.

    Subclasses list the endpoints as ``endpoints = {("chat", "completions"): EndpointClass, ...}``: the first must
    exist on the client (it identifies it), the others are mounted where the client has them. ``expected`` names
    the client for the error message.

    Args:
        client: the SDK client to wrap, sync or async; it is not modified (``.unwrapped`` returns it).
        target_tokens / rate: the default context budget (exactly one).
        compressor: a registry name or a compressor instance; token_counter: the counter for a registry name.
        on_compression: called with each request's :class:`~contextzip.integrations.messages.CompressedMessages`.
        unmarked: what a request with no marked context gets: ``"warn"`` (default: sent unchanged, one WARNING
            per client), ``"compress"`` (the user turn and tool results as context) or ``"pass"``.
        batch_window_ms: when set, the default compressor runs behind a request scheduler
            (:class:`~contextzip.scheduler.ScheduledCompressor`): concurrent calls of this client (threads, or
            tasks of an async client) that arrive within this many milliseconds share one batched pass, whatever
            their budgets. ``with_options()`` / ``copy()`` share the same scheduler.

    Per call, ``create(..., contextzip={...})`` overrides these (see
    :class:`~contextzip.integrations.messages.ChatOptions`).
    """

    endpoints: Mapping[tuple[str, ...], type[CompressingEndpoint]] = {}
    expected = "an SDK client"

    def __init__(
        self,
        client: Any,
        *,
        target_tokens: int | None = None,
        rate: float | None = None,
        compressor: str | BaseCompressor = "query-guided",
        token_counter: str | None = None,
        on_compression: Callable[[CompressedMessages], None] | None = None,
        unmarked: str = "warn",
        batch_window_ms: float | None = None,
    ) -> None:
        paths = list(self.endpoints)
        first = _resolve(client, paths[0]) if paths else None
        if first is None or not callable(getattr(first, "create", None)):
            raise TypeError(f"client must be {self.expected}, but got {type(client).__name__}")
        resolve_budget(1, target_tokens, rate)
        if on_compression is not None and not callable(on_compression):
            raise TypeError(f"on_compression must be callable, but got {type(on_compression).__name__}")
        if unmarked not in UNMARKED_POLICIES:
            raise ValueError(f"unmarked must be one of {UNMARKED_POLICIES}, but got {unmarked!r}")
        if batch_window_ms is not None:
            from contextzip.api import resolve_compressor
            from contextzip.scheduler import ScheduledCompressor

            if isinstance(batch_window_ms, bool) or not isinstance(batch_window_ms, (int, float)) \
                    or not batch_window_ms >= 0:
                raise ValueError(f"batch_window_ms must be a number >= 0 or None, but got {batch_window_ms!r}")
            compressor = ScheduledCompressor(resolve_compressor(compressor, token_counter),
                                             max_wait_ms=batch_window_ms)
        self._client = client
        self._defaults = {"target_tokens": target_tokens, "rate": rate, "compressor": compressor,
                          "token_counter": token_counter}
        self._options = {**self._defaults, "on_compression": on_compression, "unmarked": unmarked}
        self._wrapping = Wrapping(self._defaults, on_compression, unmarked, _is_async(first.create))
        for name, value in self._mounted(client).items():
            setattr(self, name, value)

    def _mounted(self, root: Any) -> dict[str, Any]:
        """The attributes of ``root`` (the client, or its ``with_raw_response`` view) with endpoints mounted."""
        mounted = {path: cls(_resolve(root, path), self._wrapping) for path, cls in self.endpoints.items()
                   if _resolve(root, path) is not None}
        return _mount(root, mounted)

    @property
    def with_raw_response(self) -> Any:
        """The client's ``with_raw_response`` view, its endpoints compressing too."""
        raw = self._client.with_raw_response
        return _Namespace(raw, self._mounted(raw))

    @property
    def with_streaming_response(self) -> Any:
        """The client's ``with_streaming_response`` view, its endpoints compressing too."""
        raw = self._client.with_streaming_response
        return _Namespace(raw, self._mounted(raw))

    def with_options(self, **kwargs: Any) -> CompressingClient:
        """The client's ``with_options(...)`` copy, wrapped the same way (never an uncompressed client)."""
        return type(self)(self._client.with_options(**kwargs), **self._options)

    def copy(self, **kwargs: Any) -> CompressingClient:
        """The client's ``copy(...)``, wrapped the same way."""
        return type(self)(self._client.copy(**kwargs), **self._options)

    @property
    def unwrapped(self) -> Any:
        """The wrapped SDK client itself, for a call that should go out uncompressed."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client!r}, {self._defaults})"
