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


# -- instrumentation events, character offsets, metadata in the budget ------------------------------------------

def test_instrumentation_events_report_each_call():
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from contextzip.integrations.llamaindex import ContextZipCompressEndEvent, ContextZipCompressStartEvent

    seen = []

    class Handler(BaseEventHandler):
        def handle(self, event, **kwargs):
            if isinstance(event, (ContextZipCompressStartEvent, ContextZipCompressEndEvent)):
                seen.append(event)

    handler = Handler()
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        out = ContextZipPostprocessor(target_tokens=60, compressor="truncate").postprocess_nodes(nodes(),
                                                                                               query_str=QUESTION)
    finally:
        root.event_handlers.remove(handler)
    start, end = seen
    assert isinstance(start, ContextZipCompressStartEvent) and start.num_nodes == len(PARAGRAPHS)
    assert start.query == QUESTION and start.original_tokens == end.original_tokens
    assert end.compressed_tokens <= 60 and end.target_tokens == 60
    assert end.kept_node_ids == [n.node.node_id for n in out]
    assert set(end.kept_node_ids) | set(end.dropped_node_ids) == {f"node-{i}" for i in range(len(PARAGRAPHS))}


def test_character_offsets_moved_or_cleared_after_shortening():
    offset, inputs = 0, nodes()
    for n in inputs:
        n.node.start_char_idx, n.node.end_char_idx = offset, offset + len(n.node.text)
        offset += len(n.node.text) + 2
    out = ContextZipPostprocessor(target_tokens=30, compressor="truncate").postprocess_nodes(inputs,
                                                                                           query_str=QUESTION)
    source = "\n\n".join(PARAGRAPHS)
    for n in out:
        original = inputs[n.node.metadata["contextzip"]["index"]].node
        if n.node.text == original.text:
            assert (n.node.start_char_idx, n.node.end_char_idx) == (original.start_char_idx, original.end_char_idx)
        elif n.node.start_char_idx is not None:
            assert source[n.node.start_char_idx:n.node.end_char_idx] == n.node.text
        else:
            assert n.node.end_char_idx is None
    assert any(n.node.text != inputs[n.node.metadata["contextzip"]["index"]].node.text for n in out)


def test_count_metadata_fits_what_the_llm_sees(counter):
    rendered = lambda out: sum(counter.count(n.node.get_content(metadata_mode=MetadataMode.LLM)) for n in out)  # noqa: E731
    plain = ContextZipPostprocessor(target_tokens=60, compressor="truncate").postprocess_nodes(nodes(),
                                                                                             query_str=QUESTION)
    counted = ContextZipPostprocessor(target_tokens=60, compressor="truncate", count_metadata=True).postprocess_nodes(
        nodes(), query_str=QUESTION)
    assert rendered(plain) > 60  # the metadata LlamaIndex renders is not in the default budget
    assert rendered(counted) <= 60
