"""LangChain: ContextZipCompressor and ContextZipRetriever against real langchain-core, in an LCEL chain."""

from __future__ import annotations

import pytest
from integration_samples import PARAGRAPHS, QUESTION, import_error_without
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore

from contextzip.integrations.langchain import (
    ContextZipCompressor,
    ContextZipRetriever,
    join_documents,
    rag_chain,
)


def lc_docs():
    return [Document(page_content=p, metadata={"source": f"s{i}", "title": "Harwick", "relevance_score": 1 - i / 10},
                     id=f"id-{i}") for i, p in enumerate(PARAGRAPHS)]


class FixedRetriever(BaseRetriever):
    documents: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return list(self.documents)


def test_compressor_keeps_identity_and_metadata(counter):
    docs = lc_docs()
    originals = [d.model_copy(deep=True) for d in docs]
    out = ContextZipCompressor(target_tokens=70, compressor="truncate").compress_documents(docs, QUESTION)
    assert docs == originals  # inputs never mutated
    assert 1 <= len(out) < len(docs)  # dropped documents are left out
    assert counter.count("\n\n".join(d.page_content for d in out)) <= 70
    for doc in out:
        i = doc.metadata["contextzip"]["index"]
        assert doc.id == docs[i].id
        assert {k: v for k, v in doc.metadata.items() if k != "contextzip"} == docs[i].metadata
        stats = doc.metadata["contextzip"]
        assert stats["status"] in ("kept", "shortened") and stats["target_tokens"] == 70
        assert stats["compressed_tokens"] == counter.count(doc.page_content)


def test_compressor_within_budget_passes_through_and_empty():
    comp = ContextZipCompressor(rate=1.0, compressor="truncate")
    docs = lc_docs()
    out = comp.compress_documents(docs, QUESTION)
    assert [d.page_content for d in out] == PARAGRAPHS
    assert all(d.metadata["contextzip"]["status"] == "kept" for d in out)
    assert comp.compress_documents([], QUESTION) == []


async def test_compressor_async_matches_sync():
    comp = ContextZipCompressor(target_tokens=50, compressor="truncate")
    assert await comp.acompress_documents(lc_docs(), QUESTION) == comp.compress_documents(lc_docs(), QUESTION)


def test_compressor_validates_budget_and_compressor():
    with pytest.raises(ValueError, match="exactly one"):
        ContextZipCompressor()
    with pytest.raises(ValueError, match="target_tokens must be > 0"):
        ContextZipCompressor(target_tokens=0)
    with pytest.raises(TypeError, match="compressor"):
        ContextZipCompressor(target_tokens=5, compressor=42)


async def test_retriever_wraps_any_retriever_sync_and_async(counter):
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents(lc_docs())
    retriever = ContextZipRetriever(base_retriever=store.as_retriever(search_kwargs={"k": 4}),
                                    compressor=ContextZipCompressor(target_tokens=60, compressor="truncate"))
    docs = retriever.invoke(QUESTION)
    adocs = await retriever.ainvoke(QUESTION)
    assert docs == adocs and docs
    assert counter.count("\n\n".join(d.page_content for d in docs)) <= 60
    assert all(d.id.startswith("id-") and d.metadata["source"].startswith("s") for d in docs)


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):
        self.prompts.extend(m.content for batch in messages for m in batch)


def test_lcel_chain_model_receives_context_within_budget(counter):
    budget = 60
    retriever = ContextZipRetriever(base_retriever=FixedRetriever(documents=lc_docs()),
                                    compressor=ContextZipCompressor(target_tokens=budget, compressor="truncate"))
    chain = rag_chain(retriever, FakeListChatModel(responses=["Marta Lindqvist"]))
    recorder = Recorder()
    assert chain.invoke(QUESTION, config={"callbacks": [recorder]}) == "Marta Lindqvist"
    human = recorder.prompts[-1]
    context = human.split("<context>\n", 1)[1].split("\n</context>", 1)[0]
    assert 0 < counter.count(context) <= budget
    assert human.endswith(f"Question: {QUESTION}")
    assert recorder.prompts[0] == "Answer from the context only."
    assert context == join_documents(retriever.invoke(QUESTION))
    full = counter.count("\n\n".join(PARAGRAPHS))
    assert full > budget  # the chain really had to compress


@pytest.mark.slow
def test_default_compressor_keeps_the_answer(query_guided, counter):
    out = ContextZipCompressor(target_tokens=60, compressor=query_guided).compress_documents(lc_docs(), QUESTION)
    text = "\n\n".join(d.page_content for d in out)
    assert counter.count(text) <= 60 and "Marta Lindqvist" in text
    assert all(isinstance(d.metadata["contextzip"]["score"], float) for d in out)


def test_missing_langchain_fails_at_construction_with_pip_line():
    error = import_error_without("langchain_core", "from contextzip.integrations.langchain import ContextZipCompressor",
                                 "ContextZipCompressor(target_tokens=10)")
    assert "pip install 'contextzip-rag[langchain]'" in error and "MissingDependencyError" in error
