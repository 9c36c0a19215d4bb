"""Tests for contextzip.segment: exact spans on hand-written cases, plus invariants on random text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contextzip.segment import Span, split_paragraphs, split_sentences, split_words

KINDS = {"sentence", "code", "list_item", "heading", "table_row"}


def texts(spans: list[Span]) -> list[str]:
    return [s.text for s in spans]


def kinded(spans: list[Span]) -> list[tuple[str, str]]:
    return [(s.text, s.kind) for s in spans]


def assert_faithful(text: str, spans: list[Span]) -> None:
    """Offsets valid, text matches, stripped, ordered, non-overlapping, only whitespace outside spans."""
    previous_end = 0
    for span in spans:
        assert 0 <= previous_end <= span.start < span.end <= len(text)
        assert span.text == text[span.start : span.end]
        assert span.text == span.text.strip()
        assert span.kind in KINDS
        assert text[previous_end : span.start].strip() == ""
        previous_end = span.end
    assert text[previous_end:].strip() == ""


# --- split_sentences: prose -----------------------------------------------------------------------------

PROSE_CASES = [
    (
        "Dr. Smith arrived at 5 p.m. yesterday. He was late.",
        ["Dr. Smith arrived at 5 p.m. yesterday.", "He was late."],
    ),
    ("I saw Dr. Smith. Dr. Jones was there too.", ["I saw Dr. Smith.", "Dr. Jones was there too."]),
    (
        "Mr. and Mrs. Smith met Prof. Jones. They talked.",
        ["Mr. and Mrs. Smith met Prof. Jones.", "They talked."],
    ),
    (
        "Use tools, e.g. hammers, i.e. heavy ones. Then stop.",
        ["Use tools, e.g. hammers, i.e. heavy ones.", "Then stop."],
    ),
    ("Compare e.g. Python with Go. Done.", ["Compare e.g. Python with Go.", "Done."]),
    ("The U.S. economy grew. The U.S. Army is big.", ["The U.S. economy grew.", "The U.S. Army is big."]),
    ("He lives in the U.S. He likes it.", ["He lives in the U.S.", "He likes it."]),
    ("Call me at 5 p.m. Then we talk.", ["Call me at 5 p.m.", "Then we talk."]),
    ("The meeting is at 10 a.m. on Monday.", ["The meeting is at 10 a.m. on Monday."]),
    ("J. R. R. Tolkien wrote books. He died in 1973.", ["J. R. R. Tolkien wrote books.", "He died in 1973."]),
    ("Apples, pears, etc. Another fruit is a plum.", ["Apples, pears, etc.", "Another fruit is a plum."]),
    (
        "See Fig. 3 for details. Apple Inc. The company grew.",
        ["See Fig. 3 for details.", "Apple Inc.", "The company grew."],
    ),
    (
        "Pi is 3.14 and version 1.5.2 is out. Next sentence.",
        ["Pi is 3.14 and version 1.5.2 is out.", "Next sentence."],
    ),
    ("It costs $1,000.50 today. Tomorrow more.", ["It costs $1,000.50 today.", "Tomorrow more."]),
    (
        "Visit https://example.com/a.b?x=1. Mail me at john.doe@example.com. Thanks.",
        ["Visit https://example.com/a.b?x=1.", "Mail me at john.doe@example.com.", "Thanks."],
    ),
    ("Is https://example.com/?q=a.b! OK? Yes.", ["Is https://example.com/?q=a.b!", "OK?", "Yes."]),
    ('He said "Go." Then he left.', ['He said "Go."', "Then he left."]),
    ("He said \u201cGo.\u201d Then he left.", ["He said \u201cGo.\u201d", "Then he left."]),
    ("(This is a parenthetical sentence.) Next one.", ["(This is a parenthetical sentence.)", "Next one."]),
    ("Sie sagte: \u201eJa.\u201c Dann ging sie.", ["Sie sagte: \u201eJa.\u201c", "Dann ging sie."]),
    ("Il a dit \u00ab oui. \u00bb Puis il est parti.", ["Il a dit \u00ab oui. \u00bb", "Puis il est parti."]),
    ("Wait... what? Really! Yes (I think.) Okay.", ["Wait... what?", "Really!", "Yes (I think.)", "Okay."]),
    (
        "Ellipsis here\u2026 And then more. Wait\u2026 no.",
        ["Ellipsis here\u2026", "And then more.", "Wait\u2026 no."],
    ),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("\u00c9ric est l\u00e0. \u00c7a va bien.", ["\u00c9ric est l\u00e0.", "\u00c7a va bien."]),
    ("Yahoo! is a company. OK.", ["Yahoo! is a company.", "OK."]),
    ("One sentence without a final stop", ["One sentence without a final stop"]),
    ("  Padded.   Both sides.  ", ["Padded.", "Both sides."]),
]


@pytest.mark.parametrize(("text", "expected"), PROSE_CASES)
def test_prose_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert texts(spans) == expected
    assert all(s.kind == "sentence" for s in spans)
    assert_faithful(text, spans)


def test_offsets_point_at_stripped_text() -> None:
    assert split_sentences("  Hi there.  Bye. ") == [Span(2, 11, "Hi there."), Span(13, 17, "Bye.")]


def test_single_newline_in_prose_is_not_a_boundary() -> None:
    text = "This line wraps\nonto the next line. Second one\nalso wraps."
    assert texts(split_sentences(text)) == ["This line wraps\nonto the next line.", "Second one\nalso wraps."]


def test_blank_line_ends_a_sentence() -> None:
    assert texts(split_sentences("No stop here\n\nNew paragraph")) == ["No stop here", "New paragraph"]


# --- split_sentences: CJK -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中文句子。第二句！第三句？", ["中文句子。", "第二句！", "第三句？"]),
        ("真的吗？！是的。", ["真的吗？！", "是的。"]),
        ("真的吗?是的。", ["真的吗?", "是的。"]),
        ("今日は晴れ。明日は雨。", ["今日は晴れ。", "明日は雨。"]),
        ("「行こう。」と言った。次の文。", ["「行こう。」と言った。", "次の文。"]),
        ("「はい。」「いいえ。」", ["「はい。」", "「いいえ。」"]),
        ("价格是３．１４元。好。", ["价格是３．１４元。", "好。"]),
        ("English first. 然后中文。Back to English.", ["English first.", "然后中文。", "Back to English."]),
        ("第一；第二。", ["第一；第二。"]),
    ],
)
def test_cjk_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert texts(spans) == expected
    assert_faithful(text, spans)


# --- split_sentences: markdown --------------------------------------------------------------------------

MARKDOWN = """# Title
Intro text here. Second sentence
wraps onto a line.

## Lists
- item one. Item one again.
- item two
  continued here
* star item
1. first
2) second

| a | b |
|---|---|
| 1 | 2 |

```python
x = 1


y = 2. Z
```
After code.

~~~
tilde fence. Still code.
~~~

    indented code

    more code
Tail.
"""

MARKDOWN_EXPECTED = [
    ("# Title", "heading"),
    ("Intro text here.", "sentence"),
    ("Second sentence\nwraps onto a line.", "sentence"),
    ("## Lists", "heading"),
    ("- item one.", "list_item"),
    ("Item one again.", "list_item"),
    ("- item two\n  continued here", "list_item"),
    ("* star item", "list_item"),
    ("1. first", "list_item"),
    ("2) second", "list_item"),
    ("| a | b |", "table_row"),
    ("|---|---|", "table_row"),
    ("| 1 | 2 |", "table_row"),
    ("```python\nx = 1\n\n\ny = 2. Z\n```", "code"),
    ("After code.", "sentence"),
    ("~~~\ntilde fence. Still code.\n~~~", "code"),
    ("indented code\n\n    more code", "code"),
    ("Tail.", "sentence"),
]


def test_markdown_structure() -> None:
    spans = split_sentences(MARKDOWN)
    assert kinded(spans) == MARKDOWN_EXPECTED
    assert_faithful(MARKDOWN, spans)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Title\n=====\n\nBody.", [("Title\n=====", "heading"), ("Body.", "sentence")]),
        ("Sub\n---\nBody.", [("Sub\n---", "heading"), ("Body.", "sentence")]),
        ("Para.\n\n***\n\nMore.", [("Para.", "sentence"), ("***", "sentence"), ("More.", "sentence")]),
        (
            "A | B\n--|--\n1 | 2\nafter",
            [("A | B", "table_row"), ("--|--", "table_row"), ("1 | 2", "table_row"), ("after", "sentence")],
        ),
        ("#hashtag is not a heading", [("#hashtag is not a heading", "sentence")]),
        ("**bold** text. More.", [("**bold** text.", "sentence"), ("More.", "sentence")]),
        (
            "Steps:\n1. Do this.\n2. Do that.",
            [("Steps:", "sentence"), ("1. Do this.", "list_item"), ("2. Do that.", "list_item")],
        ),
        (
            "It was the year\n1999. Then it ended.",
            [("It was the year\n1999.", "sentence"), ("Then it ended.", "sentence")],
        ),
        ("Run ```ls``` now. Done.", [("Run ```ls``` now.", "sentence"), ("Done.", "sentence")]),
        (
            "Text:\n```\nunclosed\n\ncode. Here",
            [("Text:", "sentence"), ("```\nunclosed\n\ncode. Here", "code")],
        ),
        ("- a\n\n    continuation of a", [("- a", "list_item"), ("continuation of a", "sentence")]),
        (
            "1. Item one. It has two sentences.",
            [("1. Item one.", "list_item"), ("It has two sentences.", "list_item")],
        ),
        (
            "  - nested item\n    ```\n    code\n    ```",
            [("- nested item", "list_item"), ("```\n    code\n    ```", "code")],
        ),
        ("````\n```\nstill code\n````\nout", [("````\n```\nstill code\n````", "code"), ("out", "sentence")]),
        pytest.param(
            "# Title\r\nFirst. Second\r\nwraps.\r\n\r\n- item\r\n",
            [("# Title", "heading"), ("First.", "sentence"), ("Second\r\nwraps.", "sentence"), ("- item", "list_item")],
            id="crlf-line-endings",
        ),
    ],
)
def test_markdown_cases(text: str, expected: list[tuple[str, str]]) -> None:
    spans = split_sentences(text)
    assert kinded(spans) == expected
    assert_faithful(text, spans)


# --- robustness and input checks ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n", "\u2028\u00a0\u3000"])
def test_blank_text_gives_nothing(text: str) -> None:
    assert split_sentences(text) == []
    assert split_words(text) == []
    assert split_paragraphs(text) == []


@pytest.mark.parametrize("bad", [b"bytes", None, 3, ["a list"]])
@pytest.mark.parametrize("split", [split_sentences, split_words, split_paragraphs])
def test_non_str_raises_type_error_naming_the_type(split, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=type(bad).__name__):
        split(bad)


@pytest.mark.parametrize(
    "text",
    [
        "Mix of \ud800 lone \udfff surrogates. And more.",
        "ctrl\x00chars\x01\x7f here.\x1c Then\x0b\x0c.",
        "".join(chr(c) for c in range(0, 0x800)),
        "emoji \U0001f600 here. Then more \U0001f600. Done.",
        "\ufeff\u200b zero width. Next.",
    ],
)
def test_odd_characters_do_not_crash(text: str) -> None:
    assert_faithful(text, split_sentences(text))
    assert_faithful(text, split_words(text))
    assert_faithful(text, split_paragraphs(text))


def test_huge_unpunctuated_text_is_one_span() -> None:
    text = "word " * 200_000  # 1 MB, no punctuation: the caller handles over-long units
    assert split_sentences(text) == [Span(0, len(text) - 1, text[:-1])]


@pytest.mark.parametrize(
    "text", ["a" * 300_000, "." * 300_000, ". " * 150_000, "\n" * 100_000, "```\n" * 50_000]
)
def test_degenerate_large_inputs_stay_linear(text: str) -> None:
    assert_faithful(text, split_sentences(text))
    assert_faithful(text, split_paragraphs(text))


# --- split_words ----------------------------------------------------------------------------------------


def test_words_are_whitespace_runs_with_offsets() -> None:
    assert split_words(" Hello,  world!\n") == [Span(1, 7, "Hello,"), Span(9, 15, "world!")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://example.com/a.b?x=1&y=2 now", ["See", "https://example.com/a.b?x=1&y=2", "now"]),
        ("mail john.doe@example.com today", ["mail", "john.doe@example.com", "today"]),
        ("pi 3.14 and 1,000 in the U.S. too", ["pi", "3.14", "and", "1,000", "in", "the", "U.S.", "too"]),
        ("中文分词", ["中", "文", "分", "词"]),
        ("你好，世界。", ["你", "好，", "世", "界。"]),
        ("「你好」", ["「你", "好」"]),
        ("カタカナとひらがな", ["カ", "タ", "カ", "ナ", "と", "ひ", "ら", "が", "な"]),
        ("请访问https://example.com/a?b=1获取", ["请", "访", "问", "https://example.com/a?b=1", "获", "取"]),
        ("价格3.14元", ["价", "格", "3.14", "元"]),
        ("한국어 문장입니다", ["한국어", "문장입니다"]),
    ],
)
def test_word_cases(text: str, expected: list[str]) -> None:
    spans = split_words(text)
    assert texts(spans) == expected
    assert_faithful(text, spans)


# --- split_paragraphs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "First para. Two sentences.\nSame para.\n\n\n```\ncode\n\nmore code\n```\n\n# Head\n\n- a\n- b\n\n| x |\n| y |\n",
            [
                ("First para. Two sentences.\nSame para.", "sentence"),
                ("```\ncode\n\nmore code\n```", "code"),
                ("# Head", "heading"),
                ("- a\n- b", "list_item"),
                ("| x |\n| y |", "table_row"),
            ],
            id="blank-lines-split-fences-stay-whole",
        ),
        pytest.param(
            "Text:\n```\na\n\nb\n```\n\nEnd",
            [("Text:\n```\na\n\nb\n```", "sentence"), ("End", "sentence")],
            id="mixed-parts-are-a-sentence-kind",
        ),
    ],
)
def test_paragraph_cases(text: str, expected: list[tuple[str, str]]) -> None:
    spans = split_paragraphs(text)
    assert kinded(spans) == expected
    assert_faithful(text, spans)


# --- properties on random text --------------------------------------------------------------------------

FRAGMENTS = [
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    "    ",
    ". ",
    "? ",
    "! ",
    "...",
    "\u2026",
    "。",
    "！",
    "？",
    "」",
    '"',
    "(",
    ")",
    "Dr.",
    "e.g.",
    "U.S.",
    "3.14",
    "https://x.io/a.b",
    "a@b.co",
    "# ",
    "- ",
    "* ",
    "1. ",
    "| a |",
    "|---|",
    "```",
    "~~~",
    "---",
    "===",
    "The",
    "word",
    "Word",
    "中文",
    "かな",
    "\u00a0",
    "\u2028",
]
any_char = st.characters(exclude_categories=())  # includes lone surrogates and control characters
random_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=any_char, max_size=4)), max_size=40
).map("".join)


@settings(max_examples=300, deadline=None)
@given(random_text)
def test_sentences_are_faithful(text: str) -> None:
    assert_faithful(text, split_sentences(text))


@settings(max_examples=300, deadline=None)
@given(random_text)
def test_words_are_faithful_and_contain_no_whitespace(text: str) -> None:
    spans = split_words(text)
    assert_faithful(text, spans)
    assert all(len(s.text.split()) == 1 for s in spans)


@settings(max_examples=300, deadline=None)
@given(random_text)
def test_paragraphs_are_faithful_and_contain_every_sentence(text: str) -> None:
    paragraphs = split_paragraphs(text)
    assert_faithful(text, paragraphs)
    for sentence in split_sentences(text):
        assert any(p.start <= sentence.start and sentence.end <= p.end for p in paragraphs)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(exclude_characters=".!?\u2026\u203c\u2047\u2048\u2049。｡！？．।॥؟۔"),
        max_size=60,
    )
)
def test_one_line_without_terminal_punctuation_is_one_span(text: str) -> None:
    line = " ".join(text.split())  # one line: no newlines left
    assert len(split_sentences(line)) == (1 if line else 0)
