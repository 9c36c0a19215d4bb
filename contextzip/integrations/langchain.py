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

The compression step is its own run in LangChain callbacks and traces (``ContextZipCompressor``: the query and
documents in, the kept documents and token counts out). A per-call budget goes through LangChain's configurable
fields::

    from langchain_core.runnables import ConfigurableField
    retriever = ContextZipRetriever(base_retriever=..., compressor=ContextZipCompressor(target_tokens=500))
    tunable = retriever.configurable_fields(target_tokens=ConfigurableField(id="target_tokens"))
    tunable.invoke("Who founded the company?", config={"configurable": {"target_tokens": 200}})

:class:`LangChainEmbedder` lets the app's own LangChain ``Embeddings`` serve as the dense scorer
(``QueryGuidedCompressor(embedder=LangChainEmbedder(embeddings))``), so no second embedding model is loaded.
Install with ``pip install 'contextzip-rag[langchain]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from contextzip.budget import resolve_budget
from contextzip.errors import missing_dependency

logger = logging.getLogger(__name__)

try:
    from langchain_core.callbacks import (
        AsyncCallbackManager,
        AsyncCallbackManagerForRetrieverRun,
        CallbackManager,
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
    CallbackManager = AsyncCallbackManager = Any  # type: ignore[misc,assignment]
    Callbacks = Runnable = Any  # type: ignore[misc,assignment]


class ContextZipCompressor(BaseDocumentCompressor, CompressionSettings):
    """Compress retrieved documents to a token budget, keeping each document's identity and metadata.

    Settings (see :class:`~contextzip.integrations.documents.CompressionSettings`): ``target_tokens`` or
    ``rate`` (exactly one), ``compressor`` ("query-guided" by default), ``token_counter``, ``metadata_key``.
    The budget covers the documents' ``page_content`` joined by a blank line (how prompts usually join them).
    """

    run_name: ClassVar[str] = "ContextZipCompressor"

    def _run_inputs(self, docs: list[LCDocument], query: str) -> dict[str, Any]:
        return {"query": query, "documents": [d.page_content for d in docs]}

    def _compress(self, docs: list[LCDocument], query: str) -> tuple[list[LCDocument], dict[str, Any]]:
        """The kept documents and the run's outputs (their text and the token counts)."""
        result, kept = self._compress_texts([d.page_content for d in docs], [d.metadata for d in docs], query)
        out = [LCDocument(page_content=dr.text, metadata={**docs[dr.index].metadata, self.metadata_key: stats},
                          id=docs[dr.index].id) for dr, stats in kept]
        outputs = {"documents": [d.page_content for d in out], "original_tokens": result.original_tokens,
                   "compressed_tokens": result.compressed_tokens, "target_tokens": result.target_tokens,
                   "tokens_saved": result.tokens_saved, "compressor": result.compressor,
                   "statuses": {d.id: d.status.value for d in result.documents}}
        return out, outputs

    def compress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Compress ``documents`` for ``query``; returns the kept ones, in input order, with stats in metadata.

        The step is reported to ``callbacks`` as its own chain run (inputs, outputs, token counts)."""
        docs = list(documents)
        if not docs:
            return []
        run = CallbackManager.configure(inheritable_callbacks=callbacks).on_chain_start(
            {"name": self.run_name}, self._run_inputs(docs, query), name=self.run_name)
        try:
            out, outputs = self._compress(docs, query)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(outputs)
        return out

    async def acompress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Async :meth:`compress_documents`: the model work runs in a worker thread."""
        docs = list(documents)
        if not docs:
            return []
        run = await AsyncCallbackManager.configure(inheritable_callbacks=callbacks).on_chain_start(
            {"name": self.run_name}, self._run_inputs(docs, query), name=self.run_name)
        try:
            out, outputs = await run_in_executor(None, self._compress, docs, query)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(outputs)
        return out


class ContextZipRetriever(BaseRetriever):
    """Wrap any retriever: retrieve, then compress the documents to a budget (sync and async).

    Args:
        base_retriever: any LangChain retriever.
        compressor: any ``BaseDocumentCompressor``; typically a :class:`ContextZipCompressor`.
        target_tokens / rate: a budget that replaces the :class:`ContextZipCompressor`'s own (at most one; ``None``
            keeps it); make them configurable fields for a per-call budget (see the module docstring).
    """

    model_config = {"arbitrary_types_allowed": True}

    base_retriever: BaseRetriever
    compressor: BaseDocumentCompressor
    target_tokens: int | None = None
    rate: float | None = None

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        if self.target_tokens is not None or self.rate is not None:
            resolve_budget(1, self.target_tokens, self.rate)
            if not isinstance(self.compressor, CompressionSettings):
                raise TypeError("target_tokens / rate need a ContextZipCompressor, but got "
                                f"{type(self.compressor).__name__}")

    def _step(self) -> BaseDocumentCompressor:
        if self.target_tokens is None and self.rate is None:
            return self.compressor
        return self.compressor.model_copy(update={"target_tokens": self.target_tokens, "rate": self.rate})

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        docs = self.base_retriever.invoke(query, config={"callbacks": run_manager.get_child()})
        if not docs:
            return []
        return list(self._step().compress_documents(docs, query, callbacks=run_manager.get_child()))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        docs = await self.base_retriever.ainvoke(query, config={"callbacks": run_manager.get_child()})
        if not docs:
            return []
        return list(await self._step().acompress_documents(docs, query, callbacks=run_manager.get_child()))


class LangChainEmbedder:
    """A LangChain ``Embeddings`` object as a :class:`contextzip.scorers.TextEmbedder`: the dense scorer of the
    query-guided and embedding compressors, so the app's own embedding model is reused.

    ::

        from contextzip.compressors import QueryGuidedCompressor
        compressor = ContextZipCompressor(target_tokens=500,
                                          compressor=QueryGuidedCompressor(embedder=LangChainEmbedder(embeddings)))

    Rows are normalised to unit length (the protocol's contract); ``embed_documents`` is called once per batch.
    """

    def __init__(self, embeddings: Any) -> None:
        if not callable(getattr(embeddings, "embed_documents", None)):
            raise TypeError(f"embeddings must be a LangChain Embeddings object, but got {type(embeddings).__name__}")
        self.embeddings = embeddings

    def warm_up(self) -> None:
        """Nothing to load: the Embeddings object is ready."""

    def encode(self, texts: Sequence[str], show_progress_bar: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        vectors = np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


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
