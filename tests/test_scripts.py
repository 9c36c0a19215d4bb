"""Scripts written without spaces (issue 14.4): Chinese, emoji and Thai segment into units that the word-level
compressors can keep, and a unit longer than the budget is cut at a token boundary."""

from __future__ import annotations

import numpy as np
import pytest

from contextzip.budget import Unit, fit_budget, top_within
from contextzip.registry import load_compressor
from contextzip.segment import codepoints, unspaced
from contextzip.testing.conformance import is_faithful_subsequence

CHINESE = "北京是中华人民共和国的首都，也是全国的政治和文化中心。" * 60
EMOJI = "😀🎉🚀🌍🔥💡📚🎵" * 250
THAI = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำในประโยค " * 60


def test_unspaced_scripts():
    flags = unspaced(codepoints("a北ไ😀 é。"))
    assert flags.tolist() == [False, True, True, True, False, False, True]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["token-classification", "coarse-to-fine"])
@pytest.mark.parametrize("text", [CHINESE, EMOJI, THAI], ids=["chinese", "emoji", "thai"])
def test_word_level_compressors_keep_text_without_spaces(name, text, counter):
    compressor = load_compressor(name)
    result = compressor.compress([text], "首都是哪里？", target_tokens=300)
    assert counter.count(text) > 300
    assert 285 <= result.compressed_tokens <= 300, result.under_budget_reason
    assert is_faithful_subsequence(result.text, text, getattr(compressor, "elision", None))


def test_a_unit_longer_than_the_budget_is_cut_at_a_token_boundary(counter):
    text = "x" * 5000  # one word of ~600 tokens
    fit = fit_budget([text], [Unit(0, 0, len(text))], np.ones(1), 50, counter)
    assert 45 <= fit.tokens <= 50 and text.startswith(fit.text)
    assert top_within([600], np.ones(1), 50) == [0]  # the soft pre-selection still hands it on
