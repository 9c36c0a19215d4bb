"""LlamaIndex: ContextZipPostprocessor against real llama-index-core."""

from __future__ import annotations

import pytest
from integration_samples import PARAGRAPHS, QUESTION, import_error_without
from llama_index.core.schema import MetadataMode, NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

from contextzip.integrations.llamaindex import ContextZipPostprocessor


def nodes():
    return [NodeWithScore(node=TextNode(text=p, id_=f"node-{i}", metadata={"file": f"f{i}.txt", "title": "Harwick"},
                                        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"src-{i}")}),
                          score=1.0 - i / 10)
            for i, p in enumerate(PARAGRAPHS)]


def test_nodes_keep_identity_metadata_and_score(counter):
    inputs = nodes()
    out = ContextZipPostprocessor(target_tokens=70, compressor="truncate").postprocess_nodes(inputs, query_str=QUESTION)
    assert 1 <= len(out) < len(inputs)
    assert counter.count("\n\n".join(n.node.get_content() for n in out)) <= 70
    for n in out:
        i = n.node.metadata["contextzip"]["index"]
        original = inputs[i]
        assert n.node.node_id == original.node.node_id and n.score == original.score
        assert n.node.relationships == original.node.relationships
        assert {k: v for k, v in n.node.metadata.items() if k != "contextzip"} == original.node.metadata
        assert "contextzip" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
        assert "contextzip" not in n.node.get_content(metadata_mode=MetadataMode.EMBED)
    # inputs untouched
    assert [n.node.text for n in inputs] == PARAGRAPHS
    assert all("contextzip" not in n.node.metadata for n in inputs)


async def test_async_matches_sync():
    post = ContextZipPostprocessor(target_tokens=50, compressor="truncate")
    sync = post.postprocess_nodes(nodes(), query_str=QUESTION)
    asyn = await post.apostprocess_nodes(nodes(), query_str=QUESTION)
    assert [(n.node.node_id, n.node.text, n.score) for n in sync] == [(n.node.node_id, n.node.text, n.score) for n in asyn]


def test_empty_and_no_query():
    post = ContextZipPostprocessor(rate=0.5, compressor="truncate")
    assert post.postprocess_nodes([]) == []
    assert post.postprocess_nodes(nodes())  # no query: query-free compression


def test_validation():
    with pytest.raises(ValueError, match="exactly one"):
        ContextZipPostprocessor()
    with pytest.raises(ValueError, match="rate must be in"):
        ContextZipPostprocessor(rate=1.5)


@pytest.mark.slow
def test_default_compressor_keeps_the_answer(query_guided, counter):
    out = ContextZipPostprocessor(target_tokens=60, compressor=query_guided).postprocess_nodes(nodes(), query_str=QUESTION)
    text = "\n\n".join(n.node.get_content() for n in out)
    assert counter.count(text) <= 60 and "Marta Lindqvist" in text


def test_missing_llamaindex_fails_at_construction_with_pip_line():
    error = import_error_without("llama_index", "from contextzip.integrations.llamaindex import ContextZipPostprocessor",
                                 "ContextZipPostprocessor(target_tokens=10)")
    assert "pip install 'contextzip-rag[llamaindex]'" in error
