"""Helpers for testing contextzip and the applications built on it.

- :mod:`contextzip.testing.fixtures`: :func:`~contextzip.testing.fixtures.fake_openai_server`, a fake
  OpenAI-compatible server on a free loopback port that records what it receives (chat completions, streamed or
  not, ``/v1/models``, Anthropic's ``/v1/messages``), and :func:`~contextzip.testing.fixtures.run_in_thread`,
  which serves any ASGI app on a background thread. Needs ``pip install 'contextzip-rag[server]'``.

- :mod:`contextzip.testing.embedders`: :class:`~contextzip.testing.embedders.HashingEmbedder`, a deterministic
  bag-of-words embedder (no model) that records what it embeds.

- :mod:`contextzip.testing.conformance`: :class:`~contextzip.testing.conformance.CompressorConformance`, the
  standard tests every compressor (built in or a plugin) passes: subclass it and provide a ``compressor`` fixture.

Importing this package imports nothing else: each name loads its own module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the submodule that defines it (new submodules add their public names here)
_EXPORTS = {
    "CompressorConformance": "conformance",
    "count_engine_passes": "conformance",
    "HashingEmbedder": "embedders",
    "FakeOpenAIServer": "fixtures",
    "create_fake_openai_app": "fixtures",
    "fake_openai_server": "fixtures",
    "run_in_thread": "fixtures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
