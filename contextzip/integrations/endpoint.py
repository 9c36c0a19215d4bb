"""SDK client wrappers that compress first: the machinery behind ``wrap_openai`` and ``wrap_anthropic``.

A :class:`CompressingClient` wraps an SDK client and mounts one :class:`CompressingEndpoint` in place of the
client's own (``client.chat.completions`` for OpenAI, ``client.messages`` for Anthropic): its ``create``
compresses the request's context (see :mod:`contextzip.integrations.messages`) and then calls the real one.
Everything else is the wrapped client's own. Neither SDK is imported: the wrappers work on the object given.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.compressors.base import BaseCompressor
from contextzip.integrations.messages import CompressedMessages, check_options

logger = logging.getLogger(__name__)


def merge_options(defaults: Mapping[str, Any], overrides: Any) -> dict[str, Any]:
    """A wrapper's defaults updated with per-call ``contextzip={...}`` options (a per-call budget replaces both
    default budget fields)."""
    overrides = check_options(overrides)
    options = {**defaults, **overrides}
    if "target_tokens" in overrides or "rate" in overrides:
        options["target_tokens"] = overrides.get("target_tokens")
        options["rate"] = overrides.get("rate")
    return options


class CompressingEndpoint:
    """An SDK endpoint (``chat.completions``, ``messages``) whose ``create`` compresses the context first.

    Sync and async clients alike: for an async endpoint, ``create`` compresses in a worker thread and awaits the
    wrapped call. Subclasses say how one request's messages are compressed and rebuilt (``_compress``).
    """

    def __init__(self, inner: Any, defaults: Mapping[str, Any],
                 on_compression: Callable[[CompressedMessages], None] | None) -> None:
        self._inner = inner
        self._defaults = defaults
        self._on_compression = on_compression
        if inspect.iscoroutinefunction(inner.create):
            self.create = self._acreate  # type: ignore[method-assign]

    def _compress(self, kwargs: dict[str, Any], options: dict[str, Any]) -> tuple[CompressedMessages, dict[str, Any]]:
        """The compressed messages and the keyword arguments to send on."""
        raise NotImplementedError

    def _prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = merge_options(self._defaults, kwargs.pop("contextzip", None))
        if "messages" not in kwargs:
            raise TypeError("create() needs messages=")
        out, prepared = self._compress(kwargs, options)
        logger.debug("contextzip: prompt %d -> %d tokens", out.prompt_tokens_before, out.prompt_tokens_after)
        if self._on_compression is not None:
            self._on_compression(out)
        return prepared

    def create(self, **kwargs: Any) -> Any:
        """``create`` with the context compressed first; ``contextzip={...}`` overrides the options per call."""
        return self._inner.create(**self._prepare(kwargs))

    async def _acreate(self, **kwargs: Any) -> Any:
        prepared = await asyncio.to_thread(self._prepare, kwargs)
        return await self._inner.create(**prepared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Namespace:
    """``inner`` with the attribute ``name`` replaced by ``value``; every other attribute is ``inner``'s own."""

    def __init__(self, inner: Any, name: str, value: Any) -> None:
        self._inner = inner
        setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _mount(inner: Any, path: Sequence[str], endpoint: CompressingEndpoint) -> Any:
    """``inner`` with the attribute at ``path`` (one name or more, non-empty) replaced by ``endpoint``."""
    head, *rest = path
    return _Namespace(inner, head, _mount(getattr(inner, head), rest, endpoint) if rest else endpoint)


class CompressingClient:
    """An SDK client whose endpoint at ``endpoint_path`` compresses context first; the rest is the client's own.

    Subclasses name the endpoint (``endpoint_path = ("chat", "completions")``), the
    :class:`CompressingEndpoint` subclass to mount there and, for the error message, the ``expected`` client.

    Args:
        client: the SDK client to wrap, sync or async; it is not modified.
        target_tokens / rate: the default context budget (exactly one).
        compressor: a registry name or a compressor instance; token_counter: the counter for a registry name.
        on_compression: called with each request's :class:`~contextzip.integrations.messages.CompressedMessages`.

    Per call, ``create(..., contextzip={...})`` overrides these (see
    :class:`~contextzip.integrations.messages.ChatOptions`).
    """

    endpoint_path: tuple[str, ...] = ()
    endpoint_class: type[CompressingEndpoint] = CompressingEndpoint
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
    ) -> None:
        inner = client
        for name in self.endpoint_path:
            inner = getattr(inner, name, None)
        if not self.endpoint_path or not callable(getattr(inner, "create", None)):
            raise TypeError(f"client must be {self.expected}, but got {type(client).__name__}")
        resolve_budget(1, target_tokens, rate)
        if on_compression is not None and not callable(on_compression):
            raise TypeError(f"on_compression must be callable, but got {type(on_compression).__name__}")
        self._client = client
        self._defaults = {"target_tokens": target_tokens, "rate": rate, "compressor": compressor,
                          "token_counter": token_counter}
        head, *rest = self.endpoint_path
        endpoint = self.endpoint_class(inner, self._defaults, on_compression)
        setattr(self, head, _mount(getattr(client, head), rest, endpoint) if rest else endpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client!r}, {self._defaults})"
