"""GistCompressor: the budget counts decoder positions, k is chosen as documented (or given), segments that do not
fit are dropped by query similarity and reported, every document is accounted for, bad arguments fail clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from contextzip.errors import BudgetError, ModelNotAvailableError
from contextzip.gist.compressor import DEFAULT_PROJECTOR, GIST_SIZES, GistCompressor
from contextzip.gist.embeds import GIST_PLACEHOLDER
from contextzip.gist.types import GistResult
from contextzip.types import DocumentStatus

NOBEL = ("The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany. "
         "John Bardeen is the only laureate to win the prize twice.")
WIND = "The south west wind blows across Nigeria between June and September. It brings the rainy season."
PARIS = "Paris is the capital of France. It is known for its museums and the Eiffel Tower."
LONG = " ".join(f"Sentence number {i} talks about the history of the city and its many old bridges." for i in range(40))


def check(result: GistResult, n_docs: int) -> None:
    assert isinstance(result, GistResult)
    assert result.compressed_tokens == result.positions == sum(s.k for s in result.segments)
    assert result.compressed_tokens <= result.target_tokens
    assert result.text == result.prompt_fragment()
    assert result.text.count(GIST_PLACEHOLDER) == len(result.segments) == len(result.vectors)
    assert len(result.documents) == n_docs and [d.index for d in result.documents] == list(range(n_docs))
    for seg, vec in zip(result.segments, result.vectors, strict=True):
        assert vec.dtype == np.float32 and vec.shape == (result.k, 576) and seg.k == result.k
    for d in result.documents:
        mine = [s for s in result.segments if s.doc == d.index]
        assert d.compressed_tokens == sum(s.k for s in mine)
        assert (d.status is DocumentStatus.DROPPED) == (not mine)
        assert d.text == "\n\n".join([GIST_PLACEHOLDER] * len(mine))
    assert result.equivalent_text_tokens == sum(s.text_tokens for s in result.segments)
    gists = result.context_gists()
    assert len(gists) == len(result.vectors) and all(tuple(g.shape) == v.shape for g, v in
                                                      zip(gists, result.vectors, strict=True))


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 8, 16, 40, 200])
def test_budget_counts_positions_and_k_is_the_largest_that_fits(gist_compressor, budget) -> None:  # type: ignore[no-untyped-def]
    docs = [NOBEL, WIND, PARIS, LONG]
    result = gist_compressor.compress(docs, "Who won the Nobel Prize?", target_tokens=budget)
    check(result, len(docs))
    n = len(result.segments) + len(result.dropped)
    assert n == sum(len(gist_compressor.encoder.segments(d)) for d in docs) > len(docs), "LONG has several"
    per_segment = sum(s.text_tokens for s in (*result.segments, *result.dropped)) // n
    fitting = [k for k in GIST_SIZES if n * k <= budget and k <= per_segment]
    assert result.k == (max(fitting) if fitting else 1)
    if not fitting:
        assert len(result.segments) == budget and len(result.dropped) == n - budget
        assert "dropped" in result.under_budget_reason
    else:
        assert not result.dropped


def test_a_short_document_gets_no_more_gists_than_it_has_tokens(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    result = gist_compressor.compress(["Paris is in France."], None, target_tokens=64)
    assert result.k == 4 and result.positions == 4 <= result.original_tokens == 5
    assert gist_compressor.compress(["Paris is in France."], None, target_tokens=64, k=16).k == 16  # asked for


def test_rate_is_a_share_of_the_decoders_tokens(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    docs = [NOBEL, WIND, PARIS]
    tokenizer_count = gist_compressor.token_counter.count("\n\n".join(docs))
    result = gist_compressor.compress(docs, None, rate=0.25)
    assert result.original_tokens == tokenizer_count
    assert result.target_tokens == int(0.25 * tokenizer_count)
    assert result.k == max(k for k in GIST_SIZES if 3 * k <= result.target_tokens)
    check(result, 3)
    assert result.equivalent_text_tokens == sum(gist_compressor.token_counter.count(d) for d in docs)


def test_explicit_k_overrides_the_budget_choice(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    docs = [NOBEL, WIND, PARIS]
    result = gist_compressor.compress(docs, None, target_tokens=100, k=2)
    assert result.k == 2 and result.positions == 6 and "k was given" in result.under_budget_reason
    squeezed = gist_compressor.compress(docs, "When does the wind blow?", target_tokens=9, k=4)
    check(squeezed, 3)
    assert squeezed.k == 4 and len(squeezed.segments) == 2 and len(squeezed.dropped) == 1
    with pytest.raises(BudgetError, match="k=4 gists per segment do not fit a budget of 3"):
        gist_compressor.compress(docs, None, target_tokens=3, k=4)
    with pytest.raises(ValueError, match="max_gists"):
        gist_compressor.compress(docs, None, target_tokens=100, k=32)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="k must be a positive int"):
            gist_compressor.compress(docs, None, target_tokens=100, k=bad)


def test_over_budget_keeps_the_segments_most_similar_to_the_query(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    docs = [{"id": "wind", "text": WIND}, {"id": "paris", "text": PARIS}, {"id": "nobel", "text": NOBEL}]
    result = gist_compressor.compress(docs, "Who won the first Nobel Prize in Physics?", target_tokens=1)
    check(result, 3)
    assert [s.doc for s in result.segments] == [2]
    assert [d.status for d in result.documents] == [DocumentStatus.DROPPED, DocumentStatus.DROPPED,
                                                    DocumentStatus.KEPT]
    assert [d.id for d in result.documents] == ["wind", "paris", "nobel"]
    assert result.document_ranking[0] == "nobel" and result.documents[2].score == 1.0
    assert all(0.0 <= d.score <= 1.0 for d in result.documents)
    assert "2 of 3 segments dropped" in result.under_budget_reason and "query" in result.under_budget_reason
    assert [s.doc for s in result.dropped] == [0, 1] and all(s.k == 0 for s in result.dropped)
    no_query = gist_compressor.compress(docs, None, target_tokens=2)
    assert [s.doc for s in no_query.segments] == [0, 1] and "first" in no_query.under_budget_reason
    assert no_query.documents[2].status is DocumentStatus.DROPPED and no_query.documents[0].score is None


def test_a_document_losing_some_segments_is_shortened(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    result = gist_compressor.compress([LONG], "bridges", target_tokens=1)
    assert len(result.segments) == 1 and len(result.dropped) == len(gist_compressor.encoder.segments(LONG)) - 1 > 0
    assert result.documents[0].status is DocumentStatus.SHORTENED
    kept = result.segments[0]
    assert LONG[kept.start:kept.end].strip() and kept.text_tokens > 0


def test_empty_and_blank_documents_are_accounted_for(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    empty = gist_compressor.compress([], "q", target_tokens=10)
    assert empty.text == "" and empty.documents == [] and empty.positions == 0 and empty.vectors == []
    assert empty.under_budget_reason == "input is empty" and empty.k is None
    blank = gist_compressor.compress(["", "  \n "], "q", target_tokens=10)
    assert blank.text == "" and [d.status for d in blank.documents] == [DocumentStatus.DROPPED] * 2
    mixed = gist_compressor.compress(["", PARIS, " "], None, target_tokens=10)
    check(mixed, 3)
    assert [d.status for d in mixed.documents] == [DocumentStatus.DROPPED, DocumentStatus.KEPT,
                                                   DocumentStatus.DROPPED]


def test_batch_with_per_item_budgets_equals_single_calls(gist_compressor) -> None:  # type: ignore[no-untyped-def]
    items = [("Who won?", [NOBEL, WIND]), (None, [PARIS]), ("wind", [WIND, PARIS, NOBEL])]
    batch = gist_compressor.compress_batch(items, target_tokens=[4, 16, 2])
    for (q, docs), budget, got in zip(items, [4, 16, 2], batch, strict=True):
        single = gist_compressor.compress(docs, q, target_tokens=budget)
        assert got.text == single.text and got.k == single.k and got.segments == single.segments
        for a, b in zip(got.vectors, single.vectors, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert [r.target_tokens for r in batch] == [4, 16, 2]
    data = batch[0].to_dict()
    assert data["positions"] == batch[0].positions and data["vector_shapes"] == [[2, 576], [2, 576]]


def test_bad_arguments_raise_clear_errors(projector, gist_compressor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="exactly one of target_tokens or rate"):
        gist_compressor.compress([PARIS], None, target_tokens=5, rate=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        gist_compressor.compress([PARIS], None)
    with pytest.raises(ValueError, match="target_tokens must be > 0"):
        gist_compressor.compress([PARIS], None, target_tokens=0)
    with pytest.raises(TypeError, match="documents must be"):
        gist_compressor.compress(42, None, target_tokens=5)  # type: ignore[arg-type]
    with pytest.raises(ModelNotAvailableError, match="python training/train_gist.py"):
        GistCompressor(projector=str(tmp_path / "nowhere"))
    with pytest.raises(TypeError, match="projector must be"):
        GistCompressor(projector=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache must be a GistCache"):
        GistCompressor(projector=projector, cache="memory")  # type: ignore[arg-type]
    from contextzip.gist.cache import GistCache

    with pytest.raises(ValueError, match="cache or cache_dir"):
        GistCompressor(projector=projector, cache=GistCache(), cache_dir=tmp_path)
    with pytest.raises(TypeError, match="decoder must be"):
        GistCompressor(projector=projector, decoder="")
    with pytest.raises(TypeError):
        GistCompressor(projector=projector, keep_ids=["x"])  # type: ignore[call-arg]


def test_default_projector_is_packaged_or_says_how_to_train_it() -> None:
    if os.path.exists(os.path.join(DEFAULT_PROJECTOR, "contextzip_gist.json")):
        assert GistCompressor().compress([PARIS], None, target_tokens=4).positions == 4
    else:
        with pytest.raises(ModelNotAvailableError, match="train_gist.py"):
            GistCompressor()


def test_registered_as_gist(projector) -> None:  # type: ignore[no-untyped-def]
    from contextzip.registry import load_compressor

    assert isinstance(load_compressor("gist", projector=projector), GistCompressor)


def test_generate_answers_each_question_through_the_gists(gist_compressor, decoder) -> None:  # type: ignore[no-untyped-def]
    questions = ["Who won the first Nobel Prize in Physics?", "What is the capital of France?"]
    replies = gist_compressor.generate(questions, [[NOBEL, WIND], [PARIS]], target_tokens=4, max_new_tokens=6)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    alone = gist_compressor.generate(questions[1:], [[PARIS]], target_tokens=4, max_new_tokens=6)
    assert alone == replies[1:]
    with pytest.raises(ValueError, match="one documents input per question"):
        gist_compressor.generate(questions, [[PARIS]], target_tokens=4)
