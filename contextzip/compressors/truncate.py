"""The baseline: keep the head of the context, documents in order, cut at a word boundary."""

from __future__ import annotations

from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.tokens import prefix_within


class TruncateCompressor(BaseCompressor):
    """Keeps documents in order until the budget is spent, then the head of the next one."""

    name = "truncate"

    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        counter, sep = request.counter, request.separator
        kept: list[str] = [""] * len(request.documents)
        pieces: list[str] = []
        full = [False] * len(request.documents)
        for i, doc in enumerate(request.documents):
            if not doc.text.strip():
                continue
            candidate = sep.join(pieces + [doc.text])
            if counter.count(candidate) <= request.budget:
                pieces.append(doc.text)
                kept[i], full[i] = doc.text, True
                continue
            prefix_text = sep.join(pieces + [""]) if pieces else ""
            room = request.budget - counter.count(prefix_text)
            head = prefix_within(doc.text, room, counter) if room > 0 else ""
            while head and counter.count(prefix_text + head) > request.budget:
                head = prefix_within(head, counter.count(head) - 1, counter)
            if head:
                pieces.append(head)
                kept[i] = head
            break
        return CompressedOutput(text=sep.join(pieces), document_texts=kept, document_full=full,
                                strategy="head of the context, in order")
