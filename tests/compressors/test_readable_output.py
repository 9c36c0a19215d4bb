"""Readable extractive output on real data: query-guided keeps whole sentences or clauses at budgets of 150
tokens and more, whole phrases under it (``windows="clauses"``: whole sentences or clauses always), and no kept
piece of query-guided or coarse-to-fine output ends inside a number or a name (issue: readable output)."""

from __future__ import annotations

import re

import pytest

from contextzip.clauses import split_clauses, split_phrases
from contextzip.model_registry import model_available
from contextzip.segment import split_sentences

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NAME_OR_NUMBER = re.compile(r"[A-Z0-9][\w'.-]*$")
_NEXT = re.compile(r"^(\s?)([A-Z0-9][\w'.-]*|,\s?\d{4}\b)")


def ends_inside_name_or_number(source: str, end: int) -> bool:
    """The piece ends in a capitalised word or a number that the source continues right away: a word
    continuing without a space ("Röntgen" cut as "Rönt"), another capitalised word or number after one space
    ("George | Raft", "25 | 1949"), or a year after a comma ("November 25 | , 1949")."""
    if end < len(source) and source[end - 1].isalnum() and source[end].isalnum():
        # Scripts written without spaces (Han, kana) are pruned character by character, by design.
        return not (_CJK.match(source[end - 1]) and _CJK.match(source[end]))
    if source[end - 1] in ".!?;:)\"'”" or source[end - 1] == "," and not re.match(r",?\s?\d{4}\b", source[end - 1:end + 6]):
        return False  # a sentence or clause ends here
    last = _NAME_OR_NUMBER.search(source[max(0, end - 40):end])
    following = _NEXT.match(source[end:end + 40])
    return bool(last and following and (following.group(1) == " " or following.group(2).startswith(",")))


def _examples(data_dir, name: str, n: int = 50):  # type: ignore[no-untyped-def]
    from contextzip.eval.datasets import load_dataset

    return load_dataset(name, str(data_dir), n)


@pytest.fixture(scope="module")
def shared_embedder(query_guided):  # type: ignore[no-untyped-def]
    """The session's sentence embedder again, with a memory cache of its own: the two windows modes and
    coarse-to-fine's coarse step embed the same sentences of the same questions, and a vector depends on its text
    only (outputs with and without a cache are the same: tests/test_cache.py), so each text is embedded once."""
    from contextzip.cache import MemoryCache
    from contextzip.onnx_embedder import OnnxSentenceEmbedder

    embedder = query_guided.embedder
    if isinstance(embedder, OnnxSentenceEmbedder):
        return OnnxSentenceEmbedder(embedder.model_name_or_path, batch_size=embedder.engine.batch_size,
                                    cache=MemoryCache())
    return type(embedder)(embedder.model_name_or_path, engine=embedder.engine, cache=MemoryCache())


def test_the_checker_catches_cut_names_and_numbers() -> None:
    text = "The film starred George Raft and was released on November 25, 1949, by United Artists."
    assert ends_inside_name_or_number(text, text.index(" Raft"))
    assert ends_inside_name_or_number(text, text.index(", 1949"))
    assert ends_inside_name_or_number(text, text.index("ft and"))
    assert not ends_inside_name_or_number(text, text.index(" and was"))
    assert not ends_inside_name_or_number(text, text.index(" by United"))


@pytest.mark.slow
@pytest.mark.parametrize("windows", ["auto", "phrases", "clauses"])
@pytest.mark.parametrize("dataset", ["hotpotqa", "nq"])
def test_query_guided_pieces_are_whole_sentences_clauses_or_phrases(data_dir, shared_embedder, dataset: str,
                                                                    windows: str) -> None:
    """``windows="phrases"`` keeps whole sentences, clauses or phrases; ``windows="clauses"`` whole sentences
    or clauses only; the default ("auto") whole sentences or clauses at budgets of ``CLAUSE_BUDGET`` tokens and
    more, phrases under it."""
    from contextzip.compressors.query_guided import CLAUSE_BUDGET, QueryGuidedCompressor

    compressor = QueryGuidedCompressor(embedder=shared_embedder, windows=windows)
    budgets = set()
    for ex in _examples(data_dir, dataset):
        result = compressor.compress(ex.documents, ex.question, rate=0.25)
        budgets.add(result.target_tokens >= CLAUSE_BUDGET)
        clauses = windows == "clauses" or windows == "auto" and result.target_tokens >= CLAUSE_BUDGET
        split = split_clauses if clauses else split_phrases
        for span in result.kept_spans:
            text = ex.documents[span.doc].text
            bounds = [(s.start + c.start, s.start + c.end) for s in split_sentences(text)
                      for c in split(text[s.start:s.end])]
            assert span.start in {a for a, _ in bounds} and span.end in {b for _, b in bounds}, \
                text[span.start:span.end]
            assert not ends_inside_name_or_number(text, span.end), text[span.start:span.end]
    if windows == "auto":  # HotpotQA's budgets at 0.25 (~325 tokens) take clauses, NQ's (~26 tokens) phrases
        assert (dataset == "hotpotqa") in budgets


@pytest.mark.slow
@pytest.mark.skipif(not model_available("contextzip-token-clf"), reason="token classifier absent")
@pytest.mark.parametrize("dataset", ["hotpotqa", "nq"])
def test_coarse_to_fine_pieces_never_end_inside_a_name_or_number(data_dir, shared_embedder, dataset: str) -> None:
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.registry import load_compressor

    scorer = QueryGuidedCompressor(embedder=shared_embedder).scorer
    compressor = load_compressor("coarse-to-fine", sentence_scorer=scorer)
    cut = []
    for ex in _examples(data_dir, dataset):
        result = compressor.compress(ex.documents, ex.question, rate=0.25)
        pieces = _pieces(result.kept_spans, [d.text for d in ex.documents])
        cut += [text[a:b] for text, a, b in pieces if ends_inside_name_or_number(text, b)]
    assert not cut, cut[:10]


def _pieces(spans, texts):  # type: ignore[no-untyped-def]
    """Maximal runs of kept spans separated only by whitespace: what a reader sees as one piece."""
    out: list[tuple[str, int, int]] = []
    for span in spans:
        text = texts[span.doc]
        if out and out[-1][0] is text and not text[out[-1][2]:span.start].strip():
            out[-1] = (text, out[-1][1], span.end)
        else:
            out.append((text, span.start, span.end))
    return out
