"""The frozen side of a gist: a document cut into segments, each segment's MiniLM token states.

Segments are runs of whole sentences of at most ``max_wordpieces`` encoder word pieces (a sentence longer than
that is its own segment, truncated by the encoder and said so in the result). Each segment is encoded alone, so it
can be cached and reused across queries (CompLLM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from contextzip.engine import ScoringEngine, pad_batch
from contextzip.models import LazyModel, load_pretrained
from contextzip.segment import split_sentences
from contextzip.validation import check_positive_int

__all__ = ["GistEncoder", "segment_spans"]


def segment_spans(text: str, count: Any, max_units: int) -> list[tuple[int, int]]:
    """(start, end) character spans of runs of whole sentences, each at most ``max_units`` by ``count``."""
    spans: list[tuple[int, int]] = []
    start = end = None
    used = 0
    for sentence in split_sentences(text):
        n = count(text[sentence.start:sentence.end])
        if start is not None and used + n > max_units:
            spans.append((start, end))  # type: ignore[arg-type]
            start, used = None, 0
        if start is None:
            start = sentence.start
        end, used = sentence.end, used + n
    if start is not None:
        spans.append((start, end))  # type: ignore[arg-type]
    return spans


class GistEncoder(LazyModel):
    """Frozen encoder token states (all-MiniLM-L6-v2 by default) for segments of text.

    Args:
        model_name_or_path: a registered name ("minilm"), hub id or local path of a BERT-like encoder.
        engine: the scoring engine (device, dtype, batching).
        max_wordpieces: word pieces per segment (MiniLM was trained on 256).
    """

    def __init__(self, model_name_or_path: str = "minilm", engine: ScoringEngine | None = None,
                 max_wordpieces: int = 256) -> None:
        super().__init__(model_name_or_path, engine or ScoringEngine(dtype="float32"))
        self.max_wordpieces = check_positive_int("max_wordpieces", max_wordpieces)

    def load(self) -> tuple[Any, Any]:
        return load_pretrained(self.model_name_or_path, self.engine)

    def count(self, text: str) -> int:
        """Word pieces of ``text`` (without the special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def segments(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text``'s segments (sentences never split; special tokens leave 2 pieces)."""
        return segment_spans(text, self.count, self.max_wordpieces - 2)

    @torch.no_grad()
    def states(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """Each text's last-layer token states, (T_i, hidden) float32 on CPU, special tokens included."""
        self.warm_up()
        if not texts:
            return []
        tokenizer, model = self._tokenizer, self._model
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=True,
                        max_length=self.max_wordpieces)["input_ids"]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        def forward(tensors: dict[str, Any]) -> list[torch.Tensor]:
            hidden = model(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]).last_hidden_state
            lengths = tensors["attention_mask"].sum(1).tolist()
            return [h[:n].float().cpu() for h, n in zip(hidden, lengths, strict=True)]

        return self.engine.run(list(range(len(ids))), lengths=[len(x) for x in ids],
                               collate=lambda batch: pad_batch([ids[i] for i in batch], pad_id),
                               forward=forward, desc="Encoding segments")

    @staticmethod
    def stack(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad token states to (B, T, hidden) with their (B, T) mask."""
        width = max(s.shape[0] for s in states)
        out = torch.zeros(len(states), width, states[0].shape[1])
        mask = torch.zeros(len(states), width, dtype=torch.bool)
        for i, s in enumerate(states):
            out[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = True
        return out, mask
