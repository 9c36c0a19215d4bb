from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contextzip.budget import (
    MIN_BUDGET_USE,
    Unit,
    fit_budget,
    head_window,
    resolve_budget,
    resolve_budgets,
    top_within,
)
from contextzip.render import render_documents, render_spans
from contextzip.segment import split_sentences


@pytest.mark.parametrize(
    ("target", "rate", "error"),
    [(None, None, ValueError), (10, 0.5, ValueError), (0, None, ValueError), (-5, None, ValueError),
     (None, 0.0, ValueError), (None, -0.1, ValueError), (None, 1.5, ValueError), (None, math.nan, ValueError),
     (2.5, None, TypeError), (True, None, TypeError), (None, "0.5", TypeError)],
)
def test_resolve_budget_rejects_impossible_budgets(target, rate, error):
    with pytest.raises(error):
        resolve_budget(100, target, rate)


def test_resolve_budget_values():
    assert resolve_budget(100, 30, None) == 30
    assert resolve_budget(100, None, 0.25) == 25
    assert resolve_budget(3, None, 0.1) == 1  # never a zero budget from a rate


def test_error_message_names_the_bad_value():
    with pytest.raises(ValueError, match="-3"):
        resolve_budget(100, -3, None)


def _units(texts: list[str], scores: list[float]) -> tuple[list[Unit], list[float]]:
    units, values, k = [], [], 0
    for d, text in enumerate(texts):
        for span in split_sentences(text):
            units.append(Unit(d, span.start, span.end))
            values.append(scores[k % len(scores)])
            k += 1
    return units, values


def test_resolve_budgets_per_item():
    assert resolve_budgets([100, 200], 30, None) == [30, 30]
    assert resolve_budgets([100, 200], [10, 20], None) == [10, 20]
    assert resolve_budgets([100, 200], None, [0.5, 0.1]) == [50, 20]
    assert resolve_budgets([100, 200], [10, None], [None, 0.5]) == [10, 100]
    with pytest.raises(ValueError, match="2 values for 3 items"):
        resolve_budgets([1, 2, 3], [10, 20], None)
    with pytest.raises(ValueError, match="exactly one"):
        resolve_budgets([100, 200], [10, None], None)


def test_resolve_budget_accepts_numpy_integers():
    import numpy as np

    assert resolve_budget(100, np.int64(30), None) == 30
    assert resolve_budget(100, None, np.float32(0.5)) == 50


def test_top_within_keeps_the_best_that_fit_in_order():
    assert top_within([5, 5, 5], [0.1, 0.9, 0.5], 10) == [1, 2]
    assert top_within([8, 2, 2], [0.9, 0.5, 0.1], 5) == [1, 2]  # the best does not fit: the next ones do


sentence = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1, max_size=60)
documents = st.lists(st.lists(sentence, min_size=1, max_size=6).map(". ".join), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(docs=documents, budget=st.integers(min_value=1, max_value=300),
       scores=st.lists(st.floats(min_value=-5, max_value=5), min_size=1, max_size=8))
def test_fit_budget_never_exceeds_budget_and_uses_it(counter, docs, budget, scores):
    units, values = _units(docs, scores)
    whole = fit_budget(docs, units, values, budget, counter, window=head_window(docs, counter))
    assert whole.tokens <= budget and counter.count(whole.text) == whole.tokens
    full = counter.count("\n\n".join(d for d in docs if d.strip()))
    if full > budget and whole.tokens < MIN_BUDGET_USE * budget:
        assert whole.reason and "would not fit" in whole.reason  # the default says why it stopped short
    # With cut_inside_words the fill may cut a head inside a word: then 95% holds unless no head fits at all.
    result = fit_budget(docs, units, values, budget, counter, window=head_window(docs, counter),
                        cut_inside_words=True)
    assert counter.count(result.text) == result.tokens
    assert result.tokens <= budget
    assert len(result.doc_texts) == len(docs)
    full = counter.count("\n\n".join(d for d in docs if d.strip()))
    if full > budget and units and result.tokens < MIN_BUDGET_USE * budget:
        # Under 95% is allowed only where tokenisation leaves nothing that fits: adding the head of any unit
        # not yet kept whole would overshoot the budget.
        assert not _head_that_fits(docs, units, result, budget, counter)
    for d, kept in enumerate(result.doc_texts):  # every kept piece is a piece of its own document
        for piece in [p for p in kept.split() if p]:
            assert piece in docs[d]


def _head_that_fits(docs, units, result, budget, counter) -> bool:
    kept: dict[int, list[tuple[int, int]]] = {}
    spans = {(k.doc, k.start, k.end) for k in result.kept}
    for k in result.kept:
        kept.setdefault(k.doc, []).append((k.start, k.end))
    for u in units:
        if (u.doc, u.start, u.end) in spans:
            continue
        text = docs[u.doc][u.start:u.end]
        ids = counter.encode(text)
        for k in range(1, min(len(ids), budget - result.tokens + 1) + 1):
            head = counter.decode(ids[:k]).rstrip()  # trailing whitespace adds no content to keep
            if not head or not text.startswith(head):
                continue
            trial = {d: [p for p in spans if not (p[0] >= u.start and p[1] <= u.end) or d != u.doc]
                     for d, spans in kept.items()}
            trial.setdefault(u.doc, []).append((u.start, u.start + len(head)))
            rendered, _ = render_documents(docs, trial, "\n\n")
            n = counter.count(rendered)
            if result.tokens < n <= budget:
                return True
    return False


def test_fit_budget_keeps_original_order_and_best_units(counter):
    text = "Alpha one is here. Beta two is there. Gamma three is everywhere."
    units, values = _units([text], [0.1, 0.9, 0.8])
    result = fit_budget([text], units, values, counter.count("Beta two is there. Gamma three is everywhere."),
                        counter)
    assert result.text == "Beta two is there. Gamma three is everywhere."
    assert result.doc_full == [False]
    assert result.threshold == pytest.approx(0.8)
    assert [(k.start, k.end) for k in result.kept] == [(u.start, u.end) for u in units[1:]]


def test_fit_budget_respects_min_score_and_forced_units(counter):
    text = "Keep me please. Drop me now."
    units, values = _units([text], [1.0, -1.0])
    assert fit_budget([text], units, values, 100, counter, min_score=0.0).text == "Keep me please."
    forced = fit_budget([text], units, values, counter.count("Drop me now."), counter, forced=[False, True])
    assert forced.text == "Drop me now."


def test_fit_budget_without_window_keeps_units_whole(counter):
    text = "A fairly long first sentence that will not fit the budget at all. Short one."
    units, values = _units([text], [1.0, 0.5])
    result = fit_budget([text], units, values, 5, counter)
    assert result.text == "Short one."  # the best unit cannot be cut, so the next one that fits is kept
    windowed = fit_budget([text], units, values, 5, counter, window=head_window([text], counter))
    assert windowed.text.startswith("A fairly") and windowed.tokens <= 5


def test_fit_budget_fills_from_new_documents_only_when_asked(counter):
    """Step 4 fills leftover budget with a window of the best unit not kept whole; ``fill_new_documents=False``
    takes it only from documents already in the output, and the reason says what was passed over."""
    docs = ["Short kept sentence.", "A long sentence of another document that cannot fit whole in what is left."]
    units, values = _units(docs, [1.0, 0.5])
    budget = counter.count("Short kept sentence.") + 8
    window = head_window(docs, counter)
    filled = fit_budget(docs, units, values, budget, counter, window=window, partial_share=1.0)
    assert filled.doc_texts[0] == docs[0] and filled.doc_texts[1].startswith("A long")  # step 4's fragment
    kept_only = fit_budget(docs, units, values, budget, counter, window=window, partial_share=1.0,
                           fill_new_documents=False)
    assert kept_only.doc_texts == [docs[0], ""] and kept_only.tokens < 0.95 * budget
    assert "fragments of documents not otherwise kept" in kept_only.reason


def test_fit_budget_head_fallback_only_when_asked(counter):
    text = "One long clause that will not fit the budget, and another that will not fit either."
    units, values = _units([text], [1.0])
    never = lambda doc, start, end, max_tokens: (start, start)  # noqa: E731 (a window that finds nothing)
    head = fit_budget([text], units, values, 5, counter, window=never)
    assert head.text.startswith("One long") and 0 < head.tokens <= 5  # step 5: the best unit's head
    strict = fit_budget([text], units, values, 5, counter, window=never, head_fallback=False)
    assert strict.text == "" and strict.tokens == 0 and "would not fit" in strict.reason


def test_fit_budget_head_fallback_ends_at_a_word_boundary(counter):
    """Step 5 keeps whole words ("... gave a", not "... gave a well-re"); only a first word longer than the
    budget is cut at a token boundary."""
    text = "New York Governor Mario Cuomo gave a well-received keynote address at the convention."
    units, values = _units([text], [1.0])
    never = lambda doc, start, end, max_tokens: (start, start)  # noqa: E731 (a window that finds nothing)
    for budget in range(1, counter.count(text)):
        head = fit_budget([text], units, values, budget, counter, window=never)
        assert 0 < head.tokens <= budget and text.startswith(head.text)
        assert text[len(head.text)] == " ", (budget, head.text)  # "New" is one token: a whole word always fits
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    head = fit_budget([word], *_units([word], [1.0]), 3, counter, window=never)
    assert 0 < head.tokens <= 3 and word.startswith(head.text) and len(head.text) < len(word)


def test_fit_budget_orders_documents_as_asked(counter):
    docs = ["First document.", "Second document."]
    units, values = _units(docs, [0.1, 0.9])
    result = fit_budget(docs, units, values, 100, counter, doc_order=[1, 0])
    assert result.text == "Second document.\n\nFirst document."
    assert result.doc_texts == docs


def test_fit_budget_zero_budget_is_empty(counter):
    units, values = _units(["Some text here."], [1.0])
    assert fit_budget(["Some text here."], units, values, 0, counter).text == ""


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=120), cuts=st.lists(st.integers(0, 120), max_size=8))
def test_render_spans_says_where_each_piece_went(text: str, cuts: list[int]) -> None:
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    pieces = [(a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=False) if b > a]
    joined, where = render_spans(text, pieces)
    assert [joined[a:b] for a, b in where] == [text[a:b] for a, b in pieces]
    if pieces and pieces == [(0, len(text))]:
        assert joined == text
