"""LlamaIndex integration: a node postprocessor that compresses retrieved nodes to a token budget.

::

    from contextzip.integrations.llamaindex import ContextZipPostprocessor
    query_engine = index.as_query_engine(node_postprocessors=[ContextZipPostprocessor(target_tokens=500)])

All nodes of a call are compressed together, to one budget, by one ``compress()`` call. Each returned node is a
copy of its input node (same id, relationships and score) with the compressed text; its own metadata is kept and
the compression stats go under ``metadata["contextzip"]``, excluded from what the LLM and the embedder see.
Dropped nodes are left out. By default the budget covers the nodes' text (``MetadataMode.NONE``);
``count_metadata=True`` counts the metadata LlamaIndex renders into the prompt (``MetadataMode.LLM``) too, so the
nodes as the LLM sees them fit the budget. A shortened node's ``start_char_idx`` / ``end_char_idx`` are moved to
the kept text when it is one contiguous piece of the original, else cleared (``None``).

Each call is reported through LlamaIndex instrumentation: a :class:`ContextZipCompressStartEvent` (query, node
count, tokens in) and a :class:`ContextZipCompressEndEvent` (tokens in and out, budget, kept and dropped node
ids), inside the postprocessor's span. Install with ``pip install 'contextzip-rag[llamaindex]'``.
"""

from __future__ import annotations

import logging
from typing import Any

from contextzip.errors import missing_dependency

logger = logging.getLogger(__name__)

try:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.base import BaseEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

    from contextzip.api import resolve_compressor
    from contextzip.integrations.documents import METADATA_KEY, CompressionSettings

    dispatcher = get_dispatcher(__name__)
    _IMPORT_ERROR: ImportError | None = None

    class ContextZipCompressStartEvent(BaseEvent):
        """Compression of a call's nodes begins."""

        query: str | None
        num_nodes: int
        original_tokens: int

        @classmethod
        def class_name(cls) -> str:
            return "ContextZipCompressStartEvent"

    class ContextZipCompressEndEvent(BaseEvent):
        """Compression of a call's nodes ended: token counts and which nodes were kept or dropped."""

        original_tokens: int
        compressed_tokens: int
        target_tokens: int
        kept_node_ids: list[str]
        dropped_node_ids: list[str]

        @classmethod
        def class_name(cls) -> str:
            return "ContextZipCompressEndEvent"

except ImportError as exc:  # the class below then fails at construction with the pip line
    _IMPORT_ERROR = exc

    class BaseNodePostprocessor:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("llama-index-core", "llamaindex") from _IMPORT_ERROR

    CompressionSettings = object  # type: ignore[misc,assignment]
    METADATA_KEY = "contextzip"
    MetadataMode = NodeWithScore = QueryBundle = Any  # type: ignore[misc,assignment]
    ContextZipCompressStartEvent = ContextZipCompressEndEvent = Any  # type: ignore[misc,assignment]


def _with(keys: list[str], key: str) -> list[str]:
    return list(keys) if key in keys else [*keys, key]


def _offsets(node: Any, original: str, kept: str) -> dict[str, int | None]:
    """``start_char_idx`` / ``end_char_idx`` for the kept text: moved when it is one contiguous piece of the
    original text, else cleared."""
    start = getattr(node, "start_char_idx", None)
    if kept == original or start is None:
        return {}
    position = original.find(kept)
    if position < 0:
        return {"start_char_idx": None, "end_char_idx": None}
    return {"start_char_idx": start + position, "end_char_idx": start + position + len(kept)}


class ContextZipPostprocessor(BaseNodePostprocessor, CompressionSettings):
    """Compress retrieved nodes to a token budget, keeping each node's identity, metadata and score.

    Settings (see :class:`~contextzip.integrations.documents.CompressionSettings`): ``target_tokens`` or
    ``rate`` (exactly one), ``compressor`` ("query-guided" by default), ``token_counter``, ``metadata_key``;
    ``count_metadata``: count the metadata each node renders for the LLM in the budget (default ``False``).
    """

    count_metadata: bool = False

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
        counter = resolve_compressor(self.compressor, self.token_counter).token_counter
        before = sum(counter.count_many(texts))
        dispatcher.event(ContextZipCompressStartEvent(query=query, num_nodes=len(nodes), original_tokens=before))
        budget = self._text_budget(nodes, texts, counter) if self.count_metadata else None
        result, kept = self._compress_texts(texts, [n.node.metadata for n in nodes], query, budget)
        kept_ids = {nodes[dr.index].node.node_id for dr, _ in kept}
        dispatcher.event(ContextZipCompressEndEvent(
            original_tokens=result.original_tokens, compressed_tokens=result.compressed_tokens,
            target_tokens=result.target_tokens, kept_node_ids=[n.node.node_id for n in nodes
                                                               if n.node.node_id in kept_ids],
            dropped_node_ids=[n.node.node_id for n in nodes if n.node.node_id not in kept_ids]))
        out: list[NodeWithScore] = []
        for dr, stats in kept:
            original = nodes[dr.index]
            node, key = original.node, self.metadata_key
            copy = node.model_copy(update={
                "metadata": {**node.metadata, key: stats},
                "excluded_llm_metadata_keys": _with(node.excluded_llm_metadata_keys, key),
                "excluded_embed_metadata_keys": _with(node.excluded_embed_metadata_keys, key),
            })
            if dr.text != texts[dr.index]:
                copy.set_content(dr.text)
                for name, value in _offsets(node, texts[dr.index], dr.text).items():
                    setattr(copy, name, value)
            out.append(NodeWithScore(node=copy, score=original.score))
        return out

    def _text_budget(self, nodes: list[NodeWithScore], texts: list[str], counter: Any) -> int:
        """The budget for the nodes' text that leaves room for the metadata every node renders."""
        rendered = [n.node.get_content(metadata_mode=MetadataMode.LLM) for n in nodes]
        overhead = sum(counter.count_many(rendered)) - sum(counter.count_many(texts))
        total = self.target_tokens if self.target_tokens is not None else \
            int(self.rate * sum(counter.count_many(rendered)))
        return max(1, total - max(0, overhead))


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
