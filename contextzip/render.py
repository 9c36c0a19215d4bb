"""The one renderer of kept spans: extractive output is the source's own characters, in source order.

Every extractive compressor decides *which* character spans of each document to keep; this module alone turns
those spans into text. Adjacent spans keep the whitespace between them exactly as in the source; spans that
are apart are joined by the elision marker when one is given (sentence-level compressors show " … " where text
was dropped, so a reader can tell), else by one space, or a line break when the dropped stretch held one.
Documents are joined by the compressor's separator, in input order or in a given order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["ELISION", "render_documents", "render_spans"]

ELISION = " … "  # the default marker between kept pieces that are not adjacent in the source


def render_spans(source: str, pieces: Sequence[tuple[int, int]],
                 elision: str | None = None, open_ends: tuple[bool, bool] = (False, False),
                 ) -> tuple[str, list[tuple[int, int]]]:
    """Join the sorted, non-overlapping ``(start, end)`` spans of ``source`` (``elision`` between pieces that
    are apart); also returns where each piece lies in the joined text. ``open_ends``: the first piece starts,
    the last piece ends, inside a sentence, so the marker (stripped of its outer space) shows there too."""
    out: list[str] = []
    where: list[tuple[int, int]] = []
    prev_end, length = None, 0
    if elision and open_ends[0] and pieces:
        out.append(elision.lstrip())
        length += len(out[0])
    for start, end in pieces:
        if prev_end is not None:
            gap = source[prev_end:start]
            if gap.strip() == "":  # contiguous: as in the source
                joint = gap
            else:
                joint = elision if elision is not None else ("\n" if "\n" in gap else " ")
            out.append(joint)
            length += len(joint)
        out.append(source[start:end])
        where.append((length, length + end - start))
        length += end - start
        prev_end = end
    if elision and open_ends[1] and pieces:
        out.append(elision.rstrip())
    return "".join(out), where


def render_documents(
    doc_texts: Sequence[str],
    kept: Mapping[int, Sequence[tuple[int, int]]],
    separator: str,
    doc_order: Sequence[int] | None = None,
    elision: str | None = None,
    open_ends: Mapping[int, tuple[bool, bool]] | None = None,
) -> tuple[str, list[str]]:
    """Render the kept spans of every document; returns the joined text and each document's text ("" when
    nothing of it was kept). ``doc_order`` sets the order documents appear in (input order by default);
    ``open_ends`` marks, per document, a first piece that starts and a last piece that ends inside a sentence."""
    per_doc = []
    for d, source in enumerate(doc_texts):
        pieces = sorted(kept.get(d, ()))
        ends = open_ends.get(d, (False, False)) if open_ends else (False, False)
        per_doc.append(render_spans(source, pieces, elision, ends)[0] if pieces else "")
    order = range(len(doc_texts)) if doc_order is None else doc_order
    return separator.join(per_doc[d] for d in order if per_doc[d]), per_doc
