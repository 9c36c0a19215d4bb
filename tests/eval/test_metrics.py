"""Answer metrics on small hand-checked cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contextzip.eval.metrics import (
    answer_word_recall,
    contains_answer,
    normalize_answer,
    rouge_l,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  A  cat,   an apple; THE end. ", "cat apple end"),
        ("Wilhelm Conrad Röntgen", "wilhelm conrad röntgen"),
        ("theatre anthem", "theatre anthem"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_contains_answer() -> None:
    assert contains_answer("It was built in 1889 by Gustave Eiffel.", ["gustave eiffel"])
    assert contains_answer("The answer: The Beatles", ["Beatles", "nope"])
    assert not contains_answer("Nothing here.", ["Paris"])
    assert not contains_answer("anything", [""])  # an empty gold answer never matches


def test_token_f1_hand_checked() -> None:
    # pred {eiffel, tower, paris} vs gold {eiffel, tower}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("the Eiffel Tower, Paris", ["Eiffel Tower"]) == pytest.approx(0.8)
    assert token_f1("Paris", ["Eiffel Tower", "Paris"]) == 1.0  # best over gold answers
    assert token_f1("London", ["Paris"]) == 0.0
    assert token_f1("", [""]) == 1.0
    assert token_f1("", ["Paris"]) == 0.0
    # repeated tokens count with multiplicity: pred [a1 a1 b] vs gold [a1 b b]: common 2, P = R = 2/3
    assert token_f1("a1 a1 b", ["a1 b b"]) == pytest.approx(2 / 3)


def test_rouge_l_hand_checked() -> None:
    # LCS of "the cat sat on the mat" and "a cat sat on a mat" is "cat sat on mat": P = R = 4/6
    assert rouge_l("the cat sat on the mat", ["a cat sat on a mat"]) == pytest.approx(2 / 3)
    assert rouge_l("cats sitting", ["cat sits"]) == pytest.approx(1.0)  # Porter stemming
    assert rouge_l("abc", ["xyz", "abc"]) == pytest.approx(1.0)  # best reference
    assert rouge_l("anything", ["", "  "]) == 0.0
    assert rouge_l("", ["some reference"]) == 0.0


def test_answer_word_recall_hand_checked() -> None:
    # content words of the answer: {cat, dog}; the text holds "cat" -> 1/2
    assert answer_word_recall("The cat sat", ["the cat and the dog"]) == pytest.approx(0.5)
    # "they" is a stop word: content words {approved, budget, marketing}, two of them in the text
    assert answer_word_recall("Budget approved, remote control design.", ["They approved the marketing budget"]) \
        == pytest.approx(2 / 3)
    assert answer_word_recall("text", ["the of and"]) == 0.0  # no content words
    assert answer_word_recall("x", []) == 0.0


def test_percentile_matches_numpy() -> None:
    import numpy as np

    from contextzip.stats import percentile

    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    for q in (0.0, 0.25, 0.5, 0.95, 1.0):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, 100 * q)))
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="q must be in"):
        percentile([1.0], 50)


@given(st.text(max_size=60), st.lists(st.text(max_size=20), min_size=1, max_size=3))
def test_scores_are_bounded(prediction: str, answers: list[str]) -> None:
    assert 0.0 <= token_f1(prediction, answers) <= 1.0
    assert 0.0 <= answer_word_recall(prediction, answers) <= 1.0
    assert 0.0 <= rouge_l(prediction, answers) <= 1.0


@given(st.text(min_size=1, max_size=40))
def test_identical_prediction_scores_one(text: str) -> None:
    if normalize_answer(text):
        assert token_f1(text, [text]) == 1.0
        assert contains_answer(text, [text])


def test_bootstrap_interval_covers_the_mean_and_narrows_with_n() -> None:
    from contextzip.stats import bootstrap_interval

    small = [1.0] * 6 + [0.0] * 4  # mean 0.6 on 10 questions
    large = small * 100  # the same mean on 1,000
    lo, hi = bootstrap_interval(small)
    lo_l, hi_l = bootstrap_interval(large)
    assert lo < 0.6 < hi and lo_l < 0.6 < hi_l
    assert hi_l - lo_l < (hi - lo) / 5  # about 1 / sqrt(100) as wide
    assert bootstrap_interval(small) == (lo, hi)  # seeded
    assert bootstrap_interval([1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_interval([]) is None
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(small, level=1.0)
