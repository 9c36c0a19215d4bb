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


# -- callbacks, configurable budgets, constructor validation, reused Embeddings ------------------------------------

class RunRecorder(BaseCallbackHandler):
    def __init__(self):
        self.starts, self.ends = [], []

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kwargs):
        self.starts.append({"name": kwargs.get("name"), "inputs": inputs, "run_id": run_id, "parent": parent_run_id})

    def on_chain_end(self, outputs, *, run_id, **kwargs):
        self.ends.append({"outputs": outputs, "run_id": run_id})


def test_compression_is_its_own_run_in_callbacks(counter):
    recorder = RunRecorder()
    out = ContextZipCompressor(target_tokens=60, compressor="truncate").compress_documents(
        lc_docs(), QUESTION, callbacks=[recorder])
    [start], [end] = recorder.starts, recorder.ends
    assert start["name"] == "ContextZipCompressor" and start["run_id"] == end["run_id"]
    assert start["inputs"] == {"query": QUESTION, "documents": PARAGRAPHS}
    outputs = end["outputs"]
    assert outputs["documents"] == [d.page_content for d in out]
    assert outputs["original_tokens"] == counter.count("\n\n".join(PARAGRAPHS))
    assert outputs["compressed_tokens"] <= 60 and outputs["target_tokens"] == 60
    assert set(outputs["statuses"].values()) <= {"kept", "shortened", "dropped"}


async def test_compression_run_is_a_child_of_the_retriever_run_sync_and_async():
    retriever = ContextZipRetriever(base_retriever=FixedRetriever(documents=lc_docs()),
                                    compressor=ContextZipCompressor(target_tokens=50, compressor="truncate"))
    for call in (lambda r: retriever.invoke(QUESTION, config={"callbacks": [r]}),
                 lambda r: retriever.ainvoke(QUESTION, config={"callbacks": [r]})):
        recorder = RunRecorder()
        result = call(recorder)
        if hasattr(result, "__await__"):
            await result
        [start] = [s for s in recorder.starts if s["name"] == "ContextZipCompressor"]
        assert start["parent"] is not None  # nested under the retriever's run
        assert recorder.ends[-1]["outputs"]["compressed_tokens"] <= 50


def test_per_call_budget_through_configurable_fields(counter):
    from langchain_core.runnables import ConfigurableField

    retriever = ContextZipRetriever(base_retriever=FixedRetriever(documents=lc_docs()),
                                    compressor=ContextZipCompressor(target_tokens=80, compressor="truncate"))
    tunable = retriever.configurable_fields(target_tokens=ConfigurableField(id="target_tokens"))
    default = tunable.invoke(QUESTION)
    small = tunable.invoke(QUESTION, config={"configurable": {"target_tokens": 20}})
    assert counter.count(join_documents(default)) > 20
    assert counter.count(join_documents(small)) <= 20
    assert all(d.metadata["contextzip"]["target_tokens"] == 20 for d in small)
    with pytest.raises(ValueError, match="exactly one"):
        ContextZipRetriever(base_retriever=FixedRetriever(documents=[]), target_tokens=5, rate=0.5,
                            compressor=ContextZipCompressor(target_tokens=80, compressor="truncate"))


def test_misspelt_compressor_fails_at_construction():
    with pytest.raises(ValueError, match="compressor must be one of .* but got 'query-guidde'"):
        ContextZipCompressor(target_tokens=50, compressor="query-guidde")


def test_langchain_embeddings_serve_as_the_dense_scorer():
    from contextzip.compressors import QueryGuidedCompressor
    from contextzip.integrations.langchain import LangChainEmbedder

    class CountingEmbeddings(DeterministicFakeEmbedding):
        calls: int = 0

        def embed_documents(self, texts):
            self.calls += 1
            return super().embed_documents(texts)

    embeddings = CountingEmbeddings(size=16)
    adapter = LangChainEmbedder(embeddings)
    vectors = adapter.encode(["a b", "c d e"])
    assert vectors.shape == (2, 16)
    assert abs(float((vectors ** 2).sum(axis=1)[0]) - 1.0) < 1e-5  # unit length, as TextEmbedder promises
    compressor = QueryGuidedCompressor(embedder=adapter)
    out = ContextZipCompressor(target_tokens=60, compressor=compressor).compress_documents(lc_docs(), QUESTION)
    assert out and embeddings.calls >= 2 and compressor.embedder is adapter
    with pytest.raises(TypeError, match="Embeddings"):
        LangChainEmbedder(object())
