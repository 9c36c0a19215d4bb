"""LangChain integration: a document compressor, a compressing retriever and a RAG chain (langchain-core only).

::

    from contextzip.integrations.langchain import ContextZipCompressor, ContextZipRetriever
    retriever = ContextZipRetriever(base_retriever=vectorstore.as_retriever(),
                                    compressor=ContextZipCompressor(target_tokens=500))
    docs = retriever.invoke("Who founded the company?")
    answer = rag_chain(retriever, chat_model).invoke("Who founded the company?")

All documents of a call are compressed together, to one budget, by one ``compress()`` call; each returned
``Document`` keeps its own id and metadata, plus the compression stats under ``metadata["contextzip"]``.
Dropped documents are left out of the returned list (the stats of the kept ones still count them).
Install with ``pip install 'contextzip-rag[langchain]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

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
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable, RunnablePassthrough, run_in_executor

    from contextzip.integrations.documents import METADATA_KEY, CompressionSettings

    _IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # the classes below then fail at construction with the pip line
    _IMPORT_ERROR = exc

    class _Missing:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise missing_dependency("langchain-core", "langchain") from _IMPORT_ERROR

    BaseDocumentCompressor = BaseRetriever = _Missing  # type: ignore[misc,assignment]
    CompressionSettings = object  # type: ignore[misc,assignment]
    METADATA_KEY = "contextzip"
    LCDocument = CallbackManagerForRetrieverRun = AsyncCallbackManagerForRetrieverRun = Any  # type: ignore[misc,assignment]
    Callbacks = Runnable = Any  # type: ignore[misc,assignment]


class ContextZipCompressor(BaseDocumentCompressor, CompressionSettings):
    """Compress retrieved documents to a token budget, keeping each document's identity and metadata.

    Settings (see :class:`~contextzip.integrations.documents.CompressionSettings`): ``target_tokens`` or
    ``rate`` (exactly one), ``compressor`` ("query-guided" by default), ``token_counter``, ``metadata_key``.
    The budget covers the documents' ``page_content`` joined by a blank line (how prompts usually join them).
    """

    def compress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Compress ``documents`` for ``query``; returns the kept ones, in input order, with stats in metadata."""
        docs = list(documents)
        if not docs:
            return []
        kept = self._compress_texts([d.page_content for d in docs], [d.metadata for d in docs], query)
        return [LCDocument(page_content=dr.text, metadata={**docs[dr.index].metadata, self.metadata_key: stats},
                           id=docs[dr.index].id) for dr, stats in kept]

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


def join_documents(documents: Sequence[LCDocument]) -> str:
    """The documents' ``page_content`` joined by a blank line: the text a compressor's budget covers."""
    return "\n\n".join(d.page_content for d in documents)


def rag_chain(retriever: Any, model: Any, instructions: str = "Answer from the context only.") -> Runnable:
    """question -> ``retriever`` -> a prompt with the documents in a ``<context>`` block -> ``model`` -> text.

    The prompt is a system message (``instructions``) and a human turn holding the documents between
    ``<context>`` tags (the block the chat wrappers and the proxy recognise as context), then ``Question: ...``.
    Typically ``retriever`` is a :class:`ContextZipRetriever`, so the model sees the compressed documents only.
    """
    prompt = ChatPromptTemplate.from_messages([
        ("system", instructions),
        ("human", "<context>\n{context}\n</context>\n\nQuestion: {question}"),
    ])
    inputs = {"context": retriever | join_documents, "question": RunnablePassthrough()}
    return inputs | prompt | model | StrOutputParser()


class ContextZipCompressingRetriever(BaseRetriever):
    """A contextzip :class:`~contextzip.retrievers.CompressingRetriever` (its own retriever, retrieve -> compress
    in one call) as a LangChain retriever.

    ::

        from contextzip.retrievers import BM25Retriever, CompressingRetriever
        zipper = CompressingRetriever(BM25Retriever(), target_tokens=500, k=10)
        zipper.retriever.add(my_documents)
        docs = ContextZipCompressingRetriever(retriever=zipper).invoke("Who founded the company?")

    Returns the documents that kept text, in rank order, with their id and metadata plus the retrieval score and
    compression stats under ``metadata["contextzip"]``. :meth:`batch` retrieves and compresses all inputs in one
    batched pass (callbacks then see the batch, not each query).
    """

    model_config = {"arbitrary_types_allowed": True}

    retriever: Any
    metadata_key: str = METADATA_KEY

    def _to_documents(self, result: Any) -> list[LCDocument]:
        out = []
        for rank, (hit, dr) in enumerate(zip(result.hits, result.compression.documents, strict=True)):
            if not dr.text:
                continue
            stats = {"status": dr.status.value, "rank": rank, "retrieval_score": hit.score,
                     "original_tokens": dr.original_tokens, "compressed_tokens": dr.compressed_tokens,
                     "target_tokens": result.compression.target_tokens, "compressor": result.compression.compressor}
            out.append(LCDocument(page_content=dr.text, id=hit.document.id,
                                  metadata={**hit.document.metadata, self.metadata_key: stats}))
        return out

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return self._to_documents(self.retriever.retrieve(query))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return self._to_documents(await self.retriever.aretrieve(query))

    def batch(self, inputs: list[str], config: Any = None, **kwargs: Any) -> list[list[LCDocument]]:  # type: ignore[override]
        """Retrieve and compress every query in one batched pass."""
        return [self._to_documents(r) for r in self.retriever.batch(list(inputs))]

    async def abatch(self, inputs: list[str], config: Any = None, **kwargs: Any) -> list[list[LCDocument]]:  # type: ignore[override]
        return [self._to_documents(r) for r in await self.retriever.abatch(list(inputs))]
