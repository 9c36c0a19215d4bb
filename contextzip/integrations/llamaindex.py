"""LlamaIndex integration: a node postprocessor that compresses retrieved nodes to a token budget.

::

    from contextzip.integrations.llamaindex import ContextZipPostprocessor
    query_engine = index.as_query_engine(node_postprocessors=[ContextZipPostprocessor(target_tokens=500)])

All nodes of a call are compressed together, to one budget, by one ``compress()`` call. Each returned node is a
copy of its input node (same id, relationships and score) with the compressed text; its own metadata is kept and
the compression stats go under ``metadata["contextzip"]``, excluded from what the LLM and the embedder see.
Dropped nodes are left out. The budget covers the nodes' text (``MetadataMode.NONE``), not metadata that
LlamaIndex may render around it. Install with ``pip install 'contextzip-rag[llamaindex]'``.
"""

from __future__ import annotations

import logging
from typing import Any

from contextzip.errors import missing_dependency

logger = logging.getLogger(__name__)

try:
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

    from contextzip.integrations.documents import METADATA_KEY, CompressionSettings

    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # the class below then fails at construction with the pip line
    _IMPORT_ERROR = exc

    class BaseNodePostprocessor:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("llama-index-core", "llamaindex") from _IMPORT_ERROR

    CompressionSettings = object  # type: ignore[misc,assignment]
    METADATA_KEY = "contextzip"
    MetadataMode = NodeWithScore = QueryBundle = Any  # type: ignore[misc,assignment]


def _with(keys: list[str], key: str) -> list[str]:
    return list(keys) if key in keys else [*keys, key]


class ContextZipPostprocessor(BaseNodePostprocessor, CompressionSettings):
    """Compress retrieved nodes to a token budget, keeping each node's identity, metadata and score.

    Settings (see :class:`~contextzip.integrations.documents.CompressionSettings`): ``target_tokens`` or
    ``rate`` (exactly one), ``compressor`` ("query-guided" by default), ``token_counter``, ``metadata_key``.
    """

    @classmethod
    def class_name(cls) -> str:
        return "ContextZipPostprocessor"

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle is not None else None
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        out: list[NodeWithScore] = []
        for dr, stats in self._compress_texts(texts, [n.node.metadata for n in nodes], query):
            original = nodes[dr.index]
            node, key = original.node, self.metadata_key
            copy = node.model_copy(update={
                "metadata": {**node.metadata, key: stats},
                "excluded_llm_metadata_keys": _with(node.excluded_llm_metadata_keys, key),
                "excluded_embed_metadata_keys": _with(node.excluded_embed_metadata_keys, key),
            })
            if dr.text != texts[dr.index]:
                copy.set_content(dr.text)
            out.append(NodeWithScore(node=copy, score=original.score))
        return out


try:
    from llama_index.core.retrievers import BaseRetriever as _LIBaseRetriever
    from llama_index.core.schema import TextNode
except ImportError:  # the class below then fails at construction with the pip line
    class _LIBaseRetriever:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("llama-index-core", "llamaindex") from _IMPORT_ERROR

    TextNode = Any  # type: ignore[misc,assignment]


class ContextZipCompressingRetriever(_LIBaseRetriever):
    """A contextzip :class:`~contextzip.retrievers.CompressingRetriever` (retrieve -> compress in one call) as a
    LlamaIndex retriever, e.g. for ``RetrieverQueryEngine.from_args(ContextZipCompressingRetriever(zipper))``.

    Returns one ``NodeWithScore`` per document that kept text, in rank order: node id = document id, the
    retrieval score, the document's metadata plus the compression stats under ``metadata["contextzip"]``
    (excluded from what the LLM and the embedder see).
    """

    def __init__(self, retriever: Any, metadata_key: str = METADATA_KEY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retriever = retriever
        self.metadata_key = metadata_key

    def _to_nodes(self, result: Any) -> list[NodeWithScore]:
        key = self.metadata_key
        out = []
        for rank, (hit, dr) in enumerate(zip(result.hits, result.compression.documents, strict=True)):
            if not dr.text:
                continue
            stats = {"status": dr.status.value, "rank": rank, "original_tokens": dr.original_tokens,
                     "compressed_tokens": dr.compressed_tokens, "target_tokens": result.compression.target_tokens,
                     "compressor": result.compression.compressor}
            node = TextNode(text=dr.text, id_=hit.document.id, metadata={**hit.document.metadata, key: stats},
                            excluded_llm_metadata_keys=[key], excluded_embed_metadata_keys=[key])
            out.append(NodeWithScore(node=node, score=hit.score))
        return out

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(self.retriever.retrieve(query_bundle.query_str))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._to_nodes(await self.retriever.aretrieve(query_bundle.query_str))
