"""LangChain's embeddings-based context compression, configured the way its documentation shows, as a peer.

The LangChain docs ("How to do retrieval with contextual compression") build
``DocumentCompressorPipeline([CharacterTextSplitter(chunk_size=300, chunk_overlap=0, separator=". "),
EmbeddingsRedundantFilter(embeddings), EmbeddingsFilter(embeddings, similarity_threshold=0.76)])``.
A threshold has no token budget, so to compare at equal budgets we ask ``EmbeddingsFilter`` for every chunk
ranked by similarity (``k`` = all) and keep chunks in LangChain's order (most similar first) while they fit the
budget; a chunk that would overshoot is skipped. The embeddings are the same all-MiniLM-L6-v2 weights contextzip
uses, loaded by LangChain's ``HuggingFaceEmbeddings`` (sentence-transformers) from the local package path.

Where the classes live in the installed versions: ``EmbeddingsFilter`` and ``DocumentCompressorPipeline`` in
``langchain_classic.retrievers.document_compressors`` (langchain 1.x moved them out of ``langchain``);
``EmbeddingsRedundantFilter`` and ``HuggingFaceEmbeddings`` in ``langchain_community``; the splitter in
``langchain_text_splitters``.

Needs: ``pip install langchain-classic langchain-community langchain-text-splitters sentence-transformers``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from benchmarks.peers.base import PeerCompressor
from contextzip.tokens import TokenCounter
from contextzip.types import Document

logger = logging.getLogger(__name__)

_PIP = "pip install langchain-classic langchain-community langchain-text-splitters sentence-transformers"


def _import_langchain() -> dict[str, Any]:
    try:
        from langchain_community.document_transformers import EmbeddingsRedundantFilter
        from langchain_core.documents import Document as LCDocument
        from langchain_text_splitters import CharacterTextSplitter
    except ImportError as exc:
        raise ImportError(f"the LangChain peer needs LangChain: {_PIP}") from exc
    try:  # langchain >= 1.0
        from langchain_classic.retrievers.document_compressors import (
            DocumentCompressorPipeline,
            EmbeddingsFilter,
        )
    except ImportError:
        try:  # langchain 0.x
            from langchain.retrievers.document_compressors import (  # type: ignore[no-redef]
                DocumentCompressorPipeline,
                EmbeddingsFilter,
            )
        except ImportError as exc:
            raise ImportError(f"EmbeddingsFilter not found in langchain_classic nor langchain: {_PIP}") from exc
    return {"EmbeddingsRedundantFilter": EmbeddingsRedundantFilter, "LCDocument": LCDocument,
            "CharacterTextSplitter": CharacterTextSplitter, "DocumentCompressorPipeline": DocumentCompressorPipeline,
            "EmbeddingsFilter": EmbeddingsFilter}


def minilm_embeddings() -> Any:
    """LangChain ``HuggingFaceEmbeddings`` over the local all-MiniLM-L6-v2 (the weights contextzip uses)."""
    import warnings

    from contextzip.model_registry import resolve_model_path

    try:
        from langchain_community.embeddings import HuggingFaceEmbeddings
    except ImportError as exc:
        raise ImportError(f"the LangChain peer needs langchain-community: {_PIP}") from exc
    with warnings.catch_warnings():  # langchain_community's class is deprecated in favour of langchain-huggingface
        warnings.simplefilter("ignore")
        return HuggingFaceEmbeddings(model_name=resolve_model_path("minilm"), model_kwargs={"device": "cpu"})


class LangChainEmbeddingsFilterPeer(PeerCompressor):
    """LangChain ``DocumentCompressorPipeline`` (splitter -> redundant filter -> ``EmbeddingsFilter``), fitted
    to the token budget by keeping its top-ranked chunks.

    Args:
        chunk_size / chunk_overlap / separator: the ``CharacterTextSplitter`` settings of LangChain's docs.
        redundant_filter: include ``EmbeddingsRedundantFilter`` (drops near-duplicate chunks, threshold 0.95).
        embeddings: any LangChain ``Embeddings``; MiniLM through ``HuggingFaceEmbeddings`` by default.
    """

    name = "langchain-embeddings-filter"

    def __init__(self, token_counter: str | TokenCounter | None = None, chunk_size: int = 300,
                 chunk_overlap: int = 0, separator: str = ". ", redundant_filter: bool = True,
                 embeddings: Any = None) -> None:
        super().__init__(token_counter)
        self._lc = _import_langchain()  # a missing LangChain fails here, with the pip line
        # The splitter checks its own settings: chunk_size > 0 and 0 <= chunk_overlap <= chunk_size.
        self._splitter = self._lc["CharacterTextSplitter"](chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                                           separator=separator)
        self.redundant_filter = redundant_filter
        self._embeddings = embeddings
        self._pipeline: Any = None

    def warm_up(self) -> None:
        if self._pipeline is not None:
            return
        lc = self._lc
        embeddings = self._embeddings if self._embeddings is not None else minilm_embeddings()
        transformers: list[Any] = [self._splitter]
        if self.redundant_filter:
            transformers.append(lc["EmbeddingsRedundantFilter"](embeddings=embeddings))
        # k large = every chunk, ranked by similarity to the query; the budget decides how many survive.
        transformers.append(lc["EmbeddingsFilter"](embeddings=embeddings, k=1_000_000, similarity_threshold=None))
        self._pipeline = lc["DocumentCompressorPipeline"](transformers=transformers)

    def ranked_chunks(self, documents: Sequence[Document], question: str) -> list[str]:
        """LangChain's output: chunks of ``documents``, most similar to ``question`` first."""
        self.warm_up()
        lc_docs = [self._lc["LCDocument"](page_content=d.text, metadata={"id": d.id}) for d in documents
                   if d.text.strip()]
        return [d.page_content for d in self._pipeline.compress_documents(lc_docs, question)]

    def _compress_text(self, documents: Sequence[Document], question: str | None, target_tokens: int) -> str:
        chunks = self.ranked_chunks(documents, question or "")
        kept: list[str] = []
        used = 0
        sep_tokens = self.token_counter.count(self.separator)
        for chunk in chunks:
            cost = self.token_counter.count(chunk) + (sep_tokens if kept else 0)
            if used + cost <= target_tokens:
                kept.append(chunk)
                used += cost
        text = self.separator.join(kept)
        while kept and self.token_counter.count(text) > target_tokens:  # tokens can merge across a join
            kept.pop()
            text = self.separator.join(kept)
        return text
