from __future__ import annotations

from contextzip import DocumentStatus
from contextzip.compressors import TruncateCompressor


def test_truncate_keeps_the_head_in_order(counter):
    docs = ["One two three four five six.", "Seven eight nine ten eleven twelve."]
    result = TruncateCompressor().compress(docs, target_tokens=9)
    assert result.compressed_tokens <= 9
    assert result.text.startswith("One two three four five six.")
    assert [d.status for d in result.documents] == [DocumentStatus.KEPT, DocumentStatus.SHORTENED]


def test_truncate_one_huge_word(counter):
    word = "x" * 5000
    result = TruncateCompressor().compress(word, target_tokens=10)
    assert 0 < result.compressed_tokens <= 10
    assert word.startswith(result.text)
