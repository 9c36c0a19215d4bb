"""What :class:`contextzip.gist.GistCompressor` returns: the gist vectors, where they came from, and the text a
prompt puts where they go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from contextzip.gist.embeds import GIST_PLACEHOLDER
from contextzip.types import CompressionResult

if TYPE_CHECKING:
    import torch

__all__ = ["GistResult", "GistSegment"]


@dataclass(frozen=True)
class GistSegment:
    """One segment: ``documents[doc].text[start:end]``, its decoder-token count and the gists it became.

    ``k`` is 0 for a dropped segment; ``truncated`` says the encoder read only its first ``max_wordpieces`` word
    pieces (one sentence longer than that).
    """

    doc: int
    start: int
    end: int
    text_tokens: int
    k: int
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"doc": self.doc, "start": self.start, "end": self.end, "text_tokens": self.text_tokens,
                "k": self.k, "truncated": self.truncated}


@dataclass(frozen=True)
class GistResult(CompressionResult):
    """A :class:`~contextzip.types.CompressionResult` whose context is gist vectors rather than text.

    ``text`` is the **prompt fragment**: one :data:`~contextzip.gist.embeds.GIST_PLACEHOLDER` per kept segment,
    joined by the compressor's separator (``"\\n\\n"``), to be put in a prompt where the context goes; the i-th
    placeholder stands for ``vectors[i]``. ``compressed_tokens`` (= ``positions``) counts the decoder positions
    the gists take (the sum of their k, the separators between them aside) and never exceeds ``target_tokens``;
    ``original_tokens`` counts the documents' decoder tokens. Each document's ``DocumentResult.text`` is its own
    fragment (placeholders of its kept segments) and its ``compressed_tokens`` the positions of its gists.

    Attributes:
        segments: the kept segments, in document and text order (one per vector).
        vectors: float32 arrays of shape ``(k, decoder_dim)``, one per kept segment, same order.
        dropped: segments left out because even one gist each would not fit (``k = 0``), with the reason in
            ``under_budget_reason``.
        k: gists per kept segment (``None`` when nothing was kept).
        positions: decoder positions of all gists (= ``compressed_tokens``).
        equivalent_text_tokens: decoder tokens of the kept segments' text (what they would cost as text).
    """

    segments: tuple[GistSegment, ...] = ()
    vectors: list[np.ndarray] = field(default_factory=list, compare=False, repr=False)
    dropped: tuple[GistSegment, ...] = ()
    k: int | None = None
    positions: int = 0
    equivalent_text_tokens: int = 0
    separator: str = "\n\n"

    def prompt_fragment(self) -> str:
        """One placeholder per kept segment, separated as the documents were: put it where the context goes
        (``f"Context:\\n{fragment}\\n\\nQuestion: ..."``) and pass :meth:`context_gists` for the placeholders."""
        return self.separator.join([GIST_PLACEHOLDER] * len(self.segments))

    def context_gists(self) -> list[torch.Tensor]:
        """The vectors as torch tensors, in placeholder order (the gists argument of :mod:`contextzip.gist.embeds`)."""
        import torch

        return [torch.from_numpy(np.asarray(v)) for v in self.vectors]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update({"segments": [s.to_dict() for s in self.segments], "dropped": [s.to_dict() for s in self.dropped],
                    "k": self.k, "positions": self.positions, "equivalent_text_tokens": self.equivalent_text_tokens,
                    "vector_shapes": [list(np.shape(v)) for v in self.vectors]})
        return out
