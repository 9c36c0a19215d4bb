"""compress_messages for OpenAI chat and Anthropic Messages: only context is compressed, inputs never mutated."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration_samples import PARAGRAPHS, QUESTION

from contextzip.integrations.anthropic import compress_messages as anthropic_compress
from contextzip.integrations.messages import CONTEXT_BLOCK, find_context
from contextzip.integrations.openai import compress_messages

SYSTEM = "You answer only from the context. Say 'unknown' when it is not there."


def block_messages(paragraphs=PARAGRAPHS, question=QUESTION):
    context = "\n\n".join(paragraphs)
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"<context>\n{context}\n</context>\n\nQuestion: {question}"}]


def context_of(text: str) -> str:
    return CONTEXT_BLOCK.search(text).group(2).strip()


def test_context_block_is_compressed_and_nothing_else(counter):
    messages = block_messages()
    before = copy.deepcopy(messages)
    out = compress_messages(messages, target_tokens=40, compressor="truncate")
    assert messages == before  # inputs never mutated
    assert out.messages[0] == messages[0]  # the system instructions, untouched
    user = out.messages[1]["content"]
    assert user.endswith(f"</context>\n\nQuestion: {QUESTION}")
    assert counter.count(context_of(user)) <= 40
    assert out.result is not None and out.result.compressed_tokens <= 40
    assert out.query == f"Question: {QUESTION}"
    assert out.prompt_tokens_after < out.prompt_tokens_before
    assert out.tokens_saved == out.prompt_tokens_before - out.prompt_tokens_after
    assert len(out.result.documents) == len(PARAGRAPHS)  # each paragraph of the block is a document


def test_query_override_and_default_query():
    ctx = find_context(block_messages(), query="bananas")
    assert ctx.query == "bananas"
    assert find_context([{"role": "user", "content": "<context>x</context>"}]).query is None


def test_no_context_means_unchanged_copy():
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    out = compress_messages(messages, target_tokens=5, compressor="truncate")
    assert out.result is None
    assert out.messages == messages and out.messages is not messages
    assert out.tokens_saved == 0


def test_system_context_block_keeps_instructions(counter):
    messages = [{"role": "system", "content": f"{SYSTEM}\n<context>{' '.join(PARAGRAPHS)}</context>\nBe brief."},
                {"role": "user", "content": QUESTION}]
    out = compress_messages(messages, target_tokens=30, compressor="truncate")
    system = out.messages[0]["content"]
    assert system.startswith(SYSTEM + "\n<context>") and system.endswith("</context>\nBe brief.")
    assert counter.count(context_of(system)) <= 30
    assert out.query == QUESTION


def test_marked_content_parts_are_documents_and_markers_are_removed(counter):
    messages = [{"role": "user", "content": [
        {"type": "text", "text": p, "context": {"id": f"doc-{i}", "title": "Harwick"}} for i, p in enumerate(PARAGRAPHS)
    ] + [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]
    before = copy.deepcopy(messages)
    out = compress_messages(messages, target_tokens=45, compressor="truncate")
    assert messages == before
    parts = out.messages[0]["content"]
    assert all("context" not in p for p in parts)
    assert parts[-2:] == [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    kept = parts[:-2]
    assert 1 <= len(kept) < len(PARAGRAPHS)  # dropped documents are removed
    assert sum(counter.count(p["text"]) for p in kept) <= 45
    assert [d.id for d in out.result.documents] == [f"doc-{i}" for i in range(len(PARAGRAPHS))]
    assert out.result.documents[0].metadata == {"title": "Harwick"}


def test_explicit_documents_go_into_last_user_turn(counter):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "earlier"},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": QUESTION}]
    out = compress_messages(messages, documents=PARAGRAPHS, target_tokens=50, compressor="truncate")
    assert out.messages[:3] == messages[:3]
    last = out.messages[3]["content"]
    assert last.startswith("<context>\n") and last.endswith(f"</context>\n\n{QUESTION}")
    assert counter.count(context_of(last)) <= 50
    assert out.query == QUESTION


def test_documents_without_user_turn_fail():
    with pytest.raises(ValueError, match="user turn"):
        compress_messages([{"role": "system", "content": SYSTEM}], documents=["x"], target_tokens=5)


@pytest.mark.parametrize("bad", ["hello", {"role": "user"}, [{"content": "no role"}], [1]])
def test_bad_messages_are_type_errors(bad):
    with pytest.raises(TypeError, match="message"):
        compress_messages(bad, target_tokens=5, compressor="truncate")


def test_budget_must_be_given_once():
    with pytest.raises(ValueError, match="exactly one"):
        compress_messages(block_messages(), compressor="truncate")
    with pytest.raises(ValueError, match="exactly one"):
        compress_messages(block_messages(), target_tokens=5, rate=0.5, compressor="truncate")


def test_anthropic_document_blocks_and_system(counter):
    messages = [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": p},
         "title": f"Part {i}", "citations": {"enabled": True}} for i, p in enumerate(PARAGRAPHS)
    ] + [{"type": "text", "text": QUESTION}]}]
    system = [{"type": "text", "text": SYSTEM}]
    before = copy.deepcopy(messages)
    out = anthropic_compress(messages, system=system, target_tokens=60, compressor="truncate")
    assert messages == before and out.system == system
    blocks = out.messages[0]["content"]
    assert blocks[-1] == {"type": "text", "text": QUESTION}
    docs = blocks[:-1]
    assert docs and all(b["type"] == "document" and b["citations"] == {"enabled": True} for b in docs)
    assert sum(counter.count(b["source"]["data"]) for b in docs) <= 60
    assert out.result.documents[0].metadata == {"title": "Part 0"}
    assert out.query == QUESTION


def test_anthropic_system_string_context():
    out = anthropic_compress([{"role": "user", "content": QUESTION}],
                             system=f"{SYSTEM} <context>{PARAGRAPHS[3]}</context>", target_tokens=10,
                             compressor="truncate")
    assert out.system.startswith(SYSTEM + " <context>") and out.messages[0]["content"] == QUESTION


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    paragraphs=st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1,
                                 max_size=200), min_size=1, max_size=6),
    budget=st.integers(min_value=1, max_value=120),
)
def test_property_context_within_budget_and_inputs_unchanged(counter, paragraphs, budget):
    messages = [{"role": "user", "content": [{"type": "text", "text": p, "context": True} for p in paragraphs]
                 + [{"type": "text", "text": "question?"}]}]
    before = copy.deepcopy(messages)
    out = compress_messages(messages, target_tokens=budget, compressor="truncate")
    assert messages == before
    if out.result is not None:
        assert out.result.compressed_tokens <= budget
        assert out.messages[0]["content"][-1] == {"type": "text", "text": "question?"}


@pytest.mark.slow
def test_query_guided_keeps_the_answer(counter, query_guided):
    out = compress_messages(block_messages(), target_tokens=60, compressor=query_guided)
    context = context_of(out.messages[1]["content"])
    assert counter.count(context) <= 60
    assert "Marta Lindqvist" in context


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    system_context=st.text(min_size=0, max_size=300),
    parts=st.lists(st.text(min_size=1, max_size=200), min_size=0, max_size=4),
    budget=st.integers(min_value=1, max_value=80),
)
def test_property_context_in_several_places(counter, system_context, parts, budget):
    system_context = system_context.replace("<", "(")  # no stray tags inside the block
    messages = [{"role": "system", "content": f"Rules stay.<context>{system_context}</context>Rules end."},
                {"role": "user", "content": [{"type": "text", "text": p, "context": True} for p in parts]
                 + [{"type": "text", "text": "the question"}]}]
    before = copy.deepcopy(messages)
    out = compress_messages(messages, target_tokens=budget, compressor="truncate")
    assert messages == before
    system = out.messages[0]["content"]
    assert system.startswith("Rules stay.<context>") and system.endswith("</context>Rules end.")
    assert out.messages[1]["content"][-1] == {"type": "text", "text": "the question"}
    if out.result is not None:
        assert out.result.compressed_tokens <= budget
        kept = [p["text"] for p in out.messages[1]["content"][:-1]]
        block = context_of(system)
        # each place holds its documents' compressed text, nothing else
        pieces = [d.text for d in out.result.documents if d.text]
        assert "\n\n".join([block] + kept if block else kept) == "\n\n".join(pieces)
