"""CompressingRetriever where LangChain and LlamaIndex users expect a retriever."""

from __future__ import annotations

import pytest

from contextzip.registry import load_compressor
from contextzip.retrievers import BM25Retriever, CompressingRetriever


@pytest.fixture
def zipper(corpus):
    bm25 = BM25Retriever()
    bm25.add(corpus)
    return CompressingRetriever(bm25, load_compressor("truncate"), target_tokens=12, k=3)


def test_langchain_retriever(zipper):
    pytest.importorskip("langchain_core")
    from contextzip.integrations.langchain import ContextZipCompressingRetriever

    lc = ContextZipCompressingRetriever(retriever=zipper)
    docs = lc.invoke("capital of Spain")
    result = zipper.retrieve("capital of Spain")
    assert [d.id for d in docs] == [d.id for d in result.documents] and docs[0].id == "madrid"
    assert "\n\n".join(d.page_content for d in docs) == result.text
    assert docs[0].metadata["lang"] == "en" and docs[0].metadata["contextzip"]["target_tokens"] == 12
    batched = lc.batch(["capital of Spain", "Eiffel tower"])
    assert [d.id for d in batched[0]] == [d.id for d in docs] and batched[1][0].id == "eiffel"


async def test_langchain_async(zipper):
    pytest.importorskip("langchain_core")
    from contextzip.integrations.langchain import ContextZipCompressingRetriever

    docs = await ContextZipCompressingRetriever(retriever=zipper).ainvoke("capital of Spain")
    assert docs[0].id == "madrid"


async def test_llamaindex_retriever(zipper):
    pytest.importorskip("llama_index.core")
    from contextzip.integrations.llamaindex import ContextZipCompressingRetriever

    li = ContextZipCompressingRetriever(zipper)
    nodes = li.retrieve("capital of Spain")
    result = zipper.retrieve("capital of Spain")
    assert [n.node.node_id for n in nodes] == [d.id for d in result.documents]
    assert nodes[0].score == result.hits[0].score and nodes[0].node.metadata["contextzip"]["rank"] == 0
    assert "contextzip" in nodes[0].node.excluded_llm_metadata_keys
    assert [n.node.node_id for n in await li.aretrieve("capital of Spain")] == [n.node.node_id for n in nodes]
