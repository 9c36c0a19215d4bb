"""LangChain integration: a document compressor and a compressing retriever (langchain-core only).

::

    from contextzip.integrations.langchain import ContextZipCompressor, ContextZipRetriever
    retriever = ContextZipRetriever(base_retriever=vectorstore.as_retriever(),
                                    compressor=ContextZipCompressor(target_tokens=500))
    docs = retriever.invoke("Who founded the company?")

All documents of a call are compressed together, to one budget, by one ``compress()`` call; each returned
``Document`` keeps its own id and metadata, plus the compression stats under ``metadata["contextzip"]``.
Dropped documents are left out of the returned list (the stats of the kept ones still count them).
Install with ``pip install 'contextzip[langchain]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from contextzip.budget import resolve_budget
from contextzip.errors import missing_dependency

logger = logging.getLogger(__name__)

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
        Callbacks,
    )
    from langchain_core.documents import BaseDocumentCompressor
    from langchain_core.documents import Document as LCDocument
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import run_in_executor

    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # the classes below then fail at construction with the pip line
    _IMPORT_ERROR = exc

    class _Missing:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("langchain-core", "langchain") from _IMPORT_ERROR

    BaseDocumentCompressor = BaseRetriever = _Missing  # type: ignore[misc,assignment]
    LCDocument = CallbackManagerForRetrieverRun = AsyncCallbackManagerForRetrieverRun = Any  # type: ignore[misc,assignment]
    Callbacks = Any  # type: ignore[misc,assignment]

METADATA_KEY = "contextzip"


class ContextZipCompressor(BaseDocumentCompressor):
    """Compress retrieved documents to a token budget, keeping each document's identity and metadata.

    Args:
        target_tokens / rate: the budget for all documents of a call together (exactly one).
        compressor: a registry name ("query-guided", the default) or a contextzip compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>" (used with a registry name).
        metadata_key: where each returned document's compression stats go in its metadata.

    The budget covers the documents' ``page_content`` joined by a blank line (how prompts usually join them).
    """

    model_config = {"arbitrary_types_allowed": True}

    target_tokens: int | None = None
    rate: float | None = None
    compressor: Any = "query-guided"
    token_counter: str | None = None
    metadata_key: str = METADATA_KEY

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        resolve_budget(1, self.target_tokens, self.rate)
        from contextzip.integrations.messages import resolve_compressor

        if not isinstance(self.compressor, str):
            resolve_compressor(self.compressor)  # type check only; names load lazily on first use

    def _compressor(self) -> Any:
        from contextzip.integrations.messages import resolve_compressor

        return resolve_compressor(self.compressor, self.token_counter)

    def compress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Compress ``documents`` for ``query``; returns the kept ones, in input order, with stats in metadata."""
        from contextzip.types import Document

        docs = list(documents)
        if not docs:
            return []
        inputs = [Document(d.page_content, str(i), d.metadata) for i, d in enumerate(docs)]
        result = self._compressor().compress(inputs, query or None, target_tokens=self.target_tokens,
                                             rate=self.rate)
        out = []
        for original, dr in zip(docs, result.documents, strict=True):
            if not dr.text:
                continue
            stats = {
                "status": dr.status.value, "index": dr.index, "original_tokens": dr.original_tokens,
                "compressed_tokens": dr.compressed_tokens, "score": dr.score,
                "target_tokens": result.target_tokens, "compressor": result.compressor,
            }
            out.append(LCDocument(page_content=dr.text, metadata={**original.metadata, self.metadata_key: stats},
                                  id=original.id))
        logger.debug("compressed %d documents: %d -> %d tokens, %d kept", len(docs), result.original_tokens,
                     result.compressed_tokens, len(out))
        return out

    async def acompress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Async :meth:`compress_documents`: the model work runs in a worker thread."""
        return await run_in_executor(None, self.compress_documents, documents, query, callbacks)


class ContextZipRetriever(BaseRetriever):
    """Wrap any retriever: retrieve, then compress the documents to a budget (sync and async).

    Args:
        base_retriever: any LangChain retriever.
        compressor: any ``BaseDocumentCompressor``; typically a :class:`ContextZipCompressor`.
    """

    model_config = {"arbitrary_types_allowed": True}

    base_retriever: BaseRetriever
    compressor: BaseDocumentCompressor

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        docs = self.base_retriever.invoke(query, config={"callbacks": run_manager.get_child()})
        if not docs:
            return []
        return list(self.compressor.compress_documents(docs, query, callbacks=run_manager.get_child()))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        docs = await self.base_retriever.ainvoke(query, config={"callbacks": run_manager.get_child()})
        if not docs:
            return []
        return list(await self.compressor.acompress_documents(docs, query, callbacks=run_manager.get_child()))
