"""The default compressor on real MiniLM: relevance, order, budget, query-free mode, edge-case inputs."""

from __future__ import annotations

import pytest

from contextzip import Document, DocumentStatus, compress

pytestmark = pytest.mark.slow

DOCS = [
    Document("The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 as the entrance "
             "to the World's Fair. It is 330 metres tall.", "eiffel", {"title": "Eiffel Tower"}),
    Document("Bananas are elongated, edible fruit. They grow in clusters near the top of the plant. Bananas are rich "
             "in potassium.", "banana", {"title": "Banana"}),
    Document("Mount Everest is Earth's highest mountain above sea level. Its elevation is 8,849 metres. It lies in "
             "the Himalayas.", "everest", {"title": "Mount Everest"}),
]


def test_keeps_the_relevant_sentence_and_drops_unrelated_documents(query_guided):
    result = query_guided.compress(DOCS, "When was the Eiffel Tower completed?", target_tokens=25)
    assert "1889" in result.text
    assert result.compressed_tokens <= 25
    status = {d.id: d.status for d in result.documents}
    assert status["eiffel"] is not DocumentStatus.DROPPED
    assert status["banana"] is DocumentStatus.DROPPED
    assert result.strategy.startswith("query")


def test_kept_sentences_stay_in_original_order(query_guided):
    result = query_guided.compress(DOCS, "How tall is the Eiffel Tower and when was it completed?", target_tokens=45)
    text = result.text
    assert text.index("1889") < text.index("330 metres")


def test_uses_95_percent_of_the_budget_or_says_why(query_guided, counter):
    """At least 95% of the budget, or the next whole clause would not fit (and the result says so)."""
    from contextzip.clauses import split_phrases

    texts = [d.text for d in DOCS]
    for budget in (7, 13, 29, 41, 60):
        result = query_guided.compress(DOCS, "Everest elevation", target_tokens=budget)
        assert result.compressed_tokens <= budget
        if result.compressed_tokens < 0.95 * budget:
            assert "would not fit" in (result.under_budget_reason or "")
            room = budget - result.compressed_tokens
            for text in texts:
                for clause in split_phrases(text):
                    if clause.text not in result.text:
                        assert counter.count(" … " + clause.text) > room, (budget, clause.text)


@pytest.mark.parametrize("windows", ["phrases", "clauses"])
def test_pieces_are_whole_sentences_clauses_or_phrases(query_guided, windows):
    from contextzip.clauses import split_clauses, split_phrases
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.segment import split_sentences

    compressor = QueryGuidedCompressor(embedder=query_guided.embedder, windows=windows)
    split = split_phrases if windows == "phrases" else split_clauses
    texts = [d.text for d in DOCS]
    for budget in (7, 13, 29, 41):
        result = compressor.compress(DOCS, "Everest elevation", target_tokens=budget)
        for span in result.kept_spans:
            text = texts[span.doc]
            bounds = [(s.start + c.start, s.start + c.end) for s in split_sentences(text)
                      for c in split(text[s.start:s.end])]
            assert span.start in {a for a, _ in bounds} and span.end in {b for _, b in bounds}, (budget, span)


LONG_DOCS = [
    Document("The Harwick Point lighthouse, which stands on a granite ledge at the mouth of the estuary, was first lit "
             "in 1872 by the harbour commission, after a decade of wrecks on the outer shoals had cost the town dozens "
             "of ships and the lives of their crews. Its first lamp burned whale oil, and its keepers carried the oil "
             "up one hundred and twelve steps every evening, in every season, until the lamp was converted to "
             "paraffin in 1901.", "history"),
    Document("Seven keepers served at Harwick Point over eighty years, most of them for less than a decade, though the "
             "longest-serving keeper, Marta Lindqvist, who had come to the point as a keeper's daughter, tended the "
             "light for thirty-one years, from 1924 to 1955, through two wars and the great storm of 1938. She kept a "
             "daily log of the weather, the ships that passed and the birds that struck the lantern, and the log is "
             "now held by the town museum.", "keepers"),
    Document("The light was automated in 1987, when a solar-charged LED beacon replaced the rotating lens, which had "
             "been made in Paris in 1900 and shipped to the point in forty crates, and the last keeper's cottage was "
             "sold to a trust that restored it as a museum, with a reading room, a small shop and a garden of coastal "
             "plants that the keepers had grown for their kitchen.", "automation"),
]


def test_auto_windows_are_phrases_under_the_clause_budget_and_clauses_from_it(query_guided):
    """The default ``windows="auto"`` cuts as "phrases" at budgets under ``CLAUSE_BUDGET`` and as "clauses"
    from it on (here the two differ at both budgets, so either wrong choice shows)."""
    from contextzip.compressors.query_guided import CLAUSE_BUDGET, QueryGuidedCompressor

    assert QueryGuidedCompressor(embedder=query_guided.embedder).windows == "auto"
    query = "Who was the longest-serving keeper of the lighthouse, and when was it automated?"
    for budget, same, other in ((CLAUSE_BUDGET - 1, "phrases", "clauses"), (CLAUSE_BUDGET, "clauses", "phrases")):
        texts = {w: QueryGuidedCompressor(embedder=query_guided.embedder, windows=w).compress(
            LONG_DOCS, query, target_tokens=budget).text for w in ("auto", same, other)}
        assert texts["auto"] == texts[same] != texts[other], budget


def test_cut_ends_are_marked_where_whole_clauses_are_kept(query_guided):
    """From ``CLAUSE_BUDGET`` on, a document's text opens with "… " when its first piece starts inside a
    sentence and closes with " …" when its last piece ends inside one; under it (phrases), no such marks."""
    from contextzip.compressors.query_guided import CLAUSE_BUDGET, QueryGuidedCompressor
    from contextzip.segment import split_sentences

    compressor = QueryGuidedCompressor(embedder=query_guided.embedder)
    query = "Who was the longest-serving keeper of the lighthouse, and when was it automated?"
    marked = 0
    for budget in (CLAUSE_BUDGET - 1, CLAUSE_BUDGET, 200, 240):
        result = compressor.compress(LONG_DOCS, query, target_tokens=budget)
        assert result.compressed_tokens <= budget
        for d, doc in enumerate(result.documents):
            spans = [k for k in result.kept_spans if k.doc == d]
            if not spans:
                continue
            starts = {s.start for s in split_sentences(LONG_DOCS[d].text)}
            ends = {s.end for s in split_sentences(LONG_DOCS[d].text)}
            opens, closes = spans[0].start not in starts, spans[-1].end not in ends
            clauses = budget >= CLAUSE_BUDGET
            assert doc.text.startswith("… ") == (clauses and opens), (budget, doc.text)
            assert doc.text.endswith(" …") == (clauses and closes), (budget, doc.text)
            marked += clauses and (opens or closes)
    assert marked  # the texts do get cut inside sentences at these budgets


def test_query_free_mode_says_so(query_guided):
    result = query_guided.compress(DOCS, None, target_tokens=30)
    assert result.strategy.startswith("query-free")
    assert result.compressed_tokens <= 30


def test_document_ids_and_metadata_are_reported(query_guided):
    result = query_guided.compress(DOCS, "highest mountain", target_tokens=20)
    assert [d.id for d in result.documents] == ["eiffel", "banana", "everest"]
    assert result.documents[2].metadata == {"title": "Mount Everest"}


@pytest.mark.parametrize("text", ["", "   ", "word", "Ünïcödé 文字 テスト ✓ — ok. 中文句子。另一句！", "a\x00b\x01c"])
def test_edge_case_texts(query_guided, counter, text):
    result = query_guided.compress(text, "question?", target_tokens=3)
    assert result.compressed_tokens <= 3
    assert len(result.documents) == 1


def test_one_megabyte_input(query_guided, counter):
    sentence = "The quick brown fox jumps over the lazy dog near the river bank in spring. "
    text = sentence * (1_000_000 // len(sentence))
    text += "The secret code is 4417. "
    result = query_guided.compress([text], "What is the secret code?", target_tokens=50)
    assert result.compressed_tokens <= 50
    assert "4417" in result.text


def test_compress_batch_equals_single(query_guided):
    pairs = [("When was the Eiffel Tower completed?", DOCS), ("How high is Everest?", DOCS)]
    batch = query_guided.compress_batch(pairs, rate=0.3)
    assert [r.text for r in batch] == [query_guided.compress(d, q, rate=0.3).text for q, d in pairs]


def test_top_level_compress_function():
    result = compress(["Paris is the capital of France.", "Bananas are yellow."],
                      query="What is the capital of France?", target_tokens=8)
    assert result.compressed_tokens <= 8
    assert "Paris" in result.text
