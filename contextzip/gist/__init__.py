"""Gists: documents as a few soft tokens in a self-hosted decoder's input embeddings (xRAG / ICAE / CompLLM).

Quickstart::

    from contextzip.gist import GistCompressor
    gist = GistCompressor()                      # the packaged projector (python training/train_gist.py)
    result = gist.compress(documents, query, target_tokens=8)
    result.prompt_fragment(), result.context_gists()   # placeholders, and the vectors that replace them
    gist.generate([query], [documents], target_tokens=8)
"""

from __future__ import annotations

from contextzip.gist.cache import GistCache
from contextzip.gist.compressor import GistCompressor
from contextzip.gist.embeds import (
           GIST_PLACEHOLDER,
           build_inputs_embeds,
           chat_prompt,
           continuation_nll,
           generate,
)
from contextzip.gist.encoder import GistEncoder
from contextzip.gist.projector import GistProjector, ProjectorConfig
from contextzip.gist.types import GistResult, GistSegment

__all__ = ["GIST_PLACEHOLDER", "GistCache", "GistCompressor", "GistEncoder", "GistProjector", "GistResult",
           "GistSegment", "ProjectorConfig", "build_inputs_embeds", "chat_prompt", "continuation_nll", "generate"]
