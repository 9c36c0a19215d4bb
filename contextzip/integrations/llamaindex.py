"""LlamaIndex integration: a node postprocessor that compresses retrieved nodes to a token budget.

::

    from contextzip.integrations.llamaindex import ContextZipPostprocessor
    query_engine = index.as_query_engine(node_postprocessors=[ContextZipPostprocessor(target_tokens=500)])

All nodes of a call are compressed together, to one budget, by one ``compress()`` call. Each returned node is a
copy of its input node (same id, relationships and score) with the compressed text; its own metadata is kept and
the compression stats go under ``metadata["contextzip"]``, excluded from what the LLM and the embedder see.
Dropped nodes are left out. The budget covers the nodes' text (``MetadataMode.NONE``), not metadata that
LlamaIndex may render around it. Install with ``pip install 'contextzip[llamaindex]'``.
"""

from __future__ import annotations

import logging
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.errors import missing_dependency

logger = logging.getLogger(__name__)

try:
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # the class below then fails at construction with the pip line
    _IMPORT_ERROR = exc

    class BaseNodePostprocessor:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("llama-index-core", "llamaindex") from _IMPORT_ERROR

    MetadataMode = NodeWithScore = QueryBundle = Any  # type: ignore[misc,assignment]

METADATA_KEY = "contextzip"


def _with(keys: list[str], key: str) -> list[str]:
    return list(keys) if key in keys else [*keys, key]


class ContextZipPostprocessor(BaseNodePostprocessor):
    """Compress retrieved nodes to a token budget, keeping each node's identity, metadata and score.

    Args:
        target_tokens / rate: the budget for all nodes of a call together (exactly one).
        compressor: a registry name ("query-guided", the default) or a contextzip compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>" (used with a registry name).
        metadata_key: where each returned node's compression stats go in its metadata.
    """

    target_tokens: int | None = None
    rate: float | None = None
    compressor: Any = "query-guided"
    token_counter: str | None = None
    metadata_key: str = METADATA_KEY

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        resolve_budget(1, self.target_tokens, self.rate)
        if not isinstance(self.compressor, str):
            from contextzip.integrations.messages import resolve_compressor

            resolve_compressor(self.compressor)

    @classmethod
    def class_name(cls) -> str:
        return "ContextZipPostprocessor"

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        from contextzip.integrations.messages import resolve_compressor
        from contextzip.types import Document

        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle is not None else None
        inputs = [Document(n.node.get_content(metadata_mode=MetadataMode.NONE), str(i), n.node.metadata)
                  for i, n in enumerate(nodes)]
        compressor = resolve_compressor(self.compressor, self.token_counter)
        result = compressor.compress(inputs, query or None, target_tokens=self.target_tokens, rate=self.rate)
        out: list[NodeWithScore] = []
        for original, dr in zip(nodes, result.documents, strict=True):
            if not dr.text:
                continue
            node = original.node
            stats = {
                "status": dr.status.value, "index": dr.index, "original_tokens": dr.original_tokens,
                "compressed_tokens": dr.compressed_tokens, "score": dr.score,
                "target_tokens": result.target_tokens, "compressor": result.compressor,
            }
            key = self.metadata_key
            copy = node.model_copy(update={
                "metadata": {**node.metadata, key: stats},
                "excluded_llm_metadata_keys": _with(node.excluded_llm_metadata_keys, key),
                "excluded_embed_metadata_keys": _with(node.excluded_embed_metadata_keys, key),
            })
            if dr.text != inputs[dr.index].text:
                copy.set_content(dr.text)
            out.append(NodeWithScore(node=copy, score=original.score))
        logger.debug("compressed %d nodes: %d -> %d tokens, %d kept", len(nodes), result.original_tokens,
                     result.compressed_tokens, len(out))
        return out
