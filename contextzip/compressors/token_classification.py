"""Token classification (LLMLingua-2 style): a bidirectional encoder labels every word keep or drop.

How it works, and where it differs from LLMLingua-2 (``llmlingua`` 0.2.2, ``compress_prompt_llmlingua2``):

* **Words and probabilities, as LLMLingua-2.** Each text is tokenized once by the model's fast tokenizer; a
  token starts a new word when it is no WordPiece continuation (``##``), or for SentencePiece models when it
  carries ``▁`` or is a single punctuation character; special tokens are skipped; a word's keep probability
  is the mean (or first) of its tokens' softmax probability of the keep label. With the same checkpoint these
  equal LLMLingua-2's within float error (``tests/compressors/test_token_classification.py``).
* **Chunks on sentence boundaries.** Long texts are cut into chunks of at most ``max_seq_len - 2`` tokens at
  sentence ends (``contextzip.segment``); the chunks of every document of every request go through the shared
  :class:`~contextzip.engine.ScoringEngine` in one length-sorted, batched pass.
* **Units that are kept or dropped whole.** Words without whitespace between them stay together (numbers such
  as ``150,782``, ``U.S.``, ``Clark's``), except punctuation at their edges; protected spans (code, URLs,
  e-mail addresses, JSON keys, quoted strings) are one unit each. Units matching ``force_tokens`` or, with
  ``force_digits``, containing a digit rank above all others.
* **One threshold, exact budget.** Units are ranked by score across all chunks and documents of a request; a
  bisection on the real token counter finds the most units that fit, so the output never exceeds the budget
  and fills it to within a unit (LLMLingua-2 instead takes a percentile per chunk and misses budgets).
* **Faithful.** Kept units are rendered in order from the original text; runs of adjacent kept units keep
  their original spacing, and a dropped stretch becomes one space (or a newline).

:class:`~contextzip.compressors.token_classification_query.QueryAwareTokenClassificationCompressor` adds the
query: each unit's keep probability is mixed with the query relevance of its sentence and document (the
query-guided compressor's scores), so a tight budget goes to the words of the relevant sentences.

The default model, ``contextzip-token-clf``, is a small convolutional student distilled by this project on top
of all-MiniLM-L6-v2's word-piece embeddings (``training/``, ``training/DATA_CARD.md``); any Hugging Face
``AutoModelForTokenClassification`` with a keep label works as well, for example
``microsoft/llmlingua-2-xlm-roberta-large-meetingbank``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.engine import ScoringEngine
from contextzip.segment import split_sentences

logger = logging.getLogger(__name__)

STUDENT_CONFIG = "contextzip_student.json"
DEFAULT_MODEL = "contextzip-token-clf"

# Spans kept or dropped whole: fenced and inline code, URLs, e-mail addresses, JSON keys, quoted strings.
PROTECTED_PATTERNS: tuple[str, ...] = (
    r"```.*?(?:```|\Z)",
    r"`[^`\n]+`",
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"'\])}]+",
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    r"\"[^\"\n]{1,200}\"\s*:",
    r"\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”",
)
_WHITESPACE = np.asarray([9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
                         + list(range(0x2000, 0x200B)), dtype=np.uint32)


@dataclass
class WordProbabilities:
    """The words of one text, as character spans, with their keep probabilities."""

    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    punct: np.ndarray  # the word is punctuation only


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


# --- the distilled student -------------------------------------------------------------------------------


def token_features(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Casing and digit features the student needs beside an uncased vocabulary: (n_tokens, 3) float32."""
    cp = codepoints(text)
    if len(starts) == 0 or len(cp) == 0:
        return np.zeros((len(starts), 3), dtype=np.float32)
    first = cp[np.clip(starts, 0, len(cp) - 1)]
    upper = ((first >= 65) & (first <= 90)) | ((first >= 192) & (first <= 222) & (first != 215))
    digit = (first >= 48) & (first <= 57)
    nonalpha = ~(upper | digit | ((first >= 97) & (first <= 122)) | (first >= 223))
    return np.stack([upper, digit, nonalpha], axis=1).astype(np.float32)


def build_student(config: dict[str, Any], embeddings: Any) -> Any:
    """The student: frozen MiniLM word-piece embeddings plus features, a few dilated convolutions, a head."""
    import torch
    from torch import nn

    class ConvBlock(nn.Module):
        def __init__(self, width: int, kernel: int, dilation: int) -> None:
            super().__init__()
            self.conv = nn.Conv1d(width, width, kernel, dilation=dilation, padding=dilation * (kernel // 2))
            self.norm = nn.LayerNorm(width)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = self.conv((x * mask).transpose(1, 2)).transpose(1, 2)
            return self.norm(x + nn.functional.gelu(h))

    class StudentTokenClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = int(config["width"])
            self.embeddings = nn.Embedding.from_pretrained(embeddings, freeze=True)
            self.proj = nn.Linear(embeddings.shape[1] + int(config["n_features"]), width)
            self.blocks = nn.ModuleList(
                ConvBlock(width, int(config["kernel"]), int(d)) for d in config["dilations"]
            )
            self.head = nn.Linear(width, 2)

            self.folded: nn.Embedding | None = None

        def fold(self) -> None:
            """For inference: fold the projection into the embedding table (one gather instead of a matmul)."""
            dim = self.embeddings.weight.shape[1]
            with torch.no_grad():
                table = self.embeddings.weight @ self.proj.weight[:, :dim].T + self.proj.bias
            self.folded = nn.Embedding.from_pretrained(table, freeze=True)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    features: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).to(self.proj.weight.dtype)
            features = features.to(self.proj.weight.dtype)
            if self.folded is not None:
                dim = self.embeddings.weight.shape[1]
                x = self.folded(input_ids) + features @ self.proj.weight[:, dim:].T
            else:
                x = self.proj(torch.cat([self.embeddings(input_ids), features], dim=-1))
            x = nn.functional.gelu(x)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(x)

    return StudentTokenClassifier()


def load_student(path: str) -> tuple[Any, Any, dict[str, Any]]:
    """(tokenizer, model, config) of a student saved by ``training/train_student.py``."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from contextzip.model_registry import resolve_model_path

    with open(os.path.join(path, STUDENT_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    base = resolve_model_path(config["base_model"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    with safe_open(os.path.join(base, "model.safetensors"), "pt") as f:
        embeddings = f.get_tensor("embeddings.word_embeddings.weight").float()
    model = build_student(config, embeddings)
    state = {k: v.float() for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if not m.startswith("embeddings.")]:
        raise ValueError(f"student weights at {path!r} do not match its config: {missing}, {unexpected}")
    model.fold()
    return tokenizer, model.to(torch.float32), config


# --- word keep probabilities -----------------------------------------------------------------------------


class TokenKeepScorer:
    """Word keep probabilities from a token classifier, batched through the shared engine.

    Args:
        model_name_or_path: a registered name, local path or hub id of an ``AutoModelForTokenClassification``
            (or of a contextzip student).
        engine: device, dtype and batching.
        max_seq_len: tokens per chunk, special tokens included (512 as LLMLingua-2).
        token_to_word: "mean" or "first": how sub-word probabilities become a word's.
        boundary_tokens: token strings put around each chunk; ``None`` uses the tokenizer's CLS and SEP.
            LLMLingua-2 puts the strings "[CLS]" and "[SEP]" for every model (the unknown token for XLM-R):
            pass ``("[CLS]", "[SEP]")`` to reproduce its inputs exactly.
        keep_label: index of the keep label; ``None`` reads it from the config (a label named "keep",
            "preserve" or "1"), else 1 as LLMLingua-2.
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_MODEL,
        engine: ScoringEngine | None = None,
        *,
        max_seq_len: int = 512,
        token_to_word: Literal["mean", "first"] = "mean",
        boundary_tokens: tuple[str, str] | None = None,
        keep_label: int | None = None,
    ) -> None:
        if token_to_word not in ("mean", "first"):
            raise ValueError(f"token_to_word must be 'mean' or 'first', but got {token_to_word!r}")
        if not isinstance(max_seq_len, int) or max_seq_len < 8:
            raise ValueError(f"max_seq_len must be an int >= 8, but got {max_seq_len!r}")
        self.model_name_or_path = model_name_or_path
        self.engine = engine or ScoringEngine()
        self.max_seq_len = max_seq_len
        self.token_to_word = token_to_word
        self.boundary_tokens = boundary_tokens
        self.keep_label = keep_label
        self._model: Any = None

    # --- loading ----------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from contextzip.model_registry import resolve_model_path

        path = resolve_model_path(self.model_name_or_path)
        self.is_student = os.path.exists(os.path.join(path, STUDENT_CONFIG))
        if self.is_student:
            tokenizer, model, config = load_student(path)
            model = self.engine.prepare(model)
            keep = int(config.get("keep_label", 1))
        else:
            from contextzip.models import load_pretrained

            tokenizer, model = load_pretrained(path, self.engine, "AutoModelForTokenClassification")
            keep = self._keep_index(model.config)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"{self.model_name_or_path!r} has no fast tokenizer (character offsets are needed)")
        self._tokenizer = tokenizer
        # A private copy of the Rust tokenizer without the truncation or padding its config may carry.
        from tokenizers import Tokenizer

        self._backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._backend.no_truncation()
        self._backend.no_padding()
        self._keep = keep if self.keep_label is None else self.keep_label
        self._build_tables(tokenizer)
        self._model = model

    @staticmethod
    def _keep_index(config: Any) -> int:
        labels = {int(k): str(v).lower() for k, v in (getattr(config, "id2label", None) or {}).items()}
        for idx, name in labels.items():
            if name in ("keep", "preserve", "1", "label_1", "true", "yes"):
                return idx
        return 1

    def _build_tables(self, tokenizer: Any) -> None:
        """Per vocabulary id: starts a word, is special, is punctuation only (so no per-token Python later)."""
        vocab = tokenizer.get_vocab()
        size = max(max(vocab.values()) + 1, len(tokenizer))
        tokens = [""] * size
        for tok, idx in vocab.items():
            tokens[idx] = tok
        sentencepiece = any(t.startswith("▁") for t in tokens[: min(size, 5000)])
        punctuation = set(string.punctuation)
        begin = np.zeros(size, dtype=bool)
        punct = np.zeros(size, dtype=bool)
        for idx, tok in enumerate(tokens):
            pure = tok[2:] if tok.startswith("##") else tok.lstrip("▁")
            punct[idx] = bool(pure) and all(not ch.isalnum() for ch in pure)
            if sentencepiece:
                begin[idx] = tok.startswith("▁") or tok in punctuation
            else:
                begin[idx] = not tok.startswith("##")
        special = np.zeros(size, dtype=bool)
        special[[i for i in tokenizer.all_special_ids if i < size]] = True
        self._begin, self._special, self._punct = begin, special, punct
        if self.boundary_tokens is None:
            cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
            sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        else:
            cls, sep = (tokenizer.convert_tokens_to_ids(t) for t in self.boundary_tokens)
        self._cls, self._sep = cls, sep
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # --- scoring ----------------------------------------------------------------------------------------

    def _chunks(self, text: str, starts: np.ndarray, begins: np.ndarray) -> list[tuple[int, int]]:
        """Token ranges of at most ``max_seq_len - 2`` tokens, cut at sentence ends where possible."""
        limit = self.max_seq_len - 2
        n = len(starts)
        if n <= limit:
            return [(0, n)] if n else []
        cuts = [int(np.searchsorted(starts, s.end)) for s in split_sentences(text)]
        out: list[tuple[int, int]] = []
        begin = last_cut = 0
        for cut in cuts + [n]:
            while cut - begin > limit:
                if last_cut > begin:
                    end = last_cut
                else:  # one sentence longer than a chunk: cut at the last word start that fits
                    word_starts = np.nonzero(begins[begin + 1: begin + limit])[0]
                    end = begin + 1 + int(word_starts[-1]) if len(word_starts) else begin + limit
                out.append((begin, end))
                begin = end
            last_cut = cut
        if begin < n:
            out.append((begin, n))
        return out

    def score(self, texts: Sequence[str]) -> list[WordProbabilities]:
        """Word spans and keep probabilities of each text, all chunks scored in one engine pass."""
        import torch

        self.warm_up()
        # The Rust tokenizer directly: transformers' conversion of every encoding costs more than encoding.
        encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
        per_text = []
        items: list[tuple[int, int, int]] = []
        for t, enc in enumerate(encodings):
            ids_arr = np.asarray(enc.ids, dtype=np.int64)
            off = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            if len(ids_arr) == 0:
                off = np.zeros((0, 2), dtype=np.int64)
            chunks = self._chunks(texts[t], off[:, 0], self._begin[ids_arr])
            feats = token_features(texts[t], off[:, 0], off[:, 1]) if self.is_student else None
            per_text.append((ids_arr, off, chunks, feats))
            items.extend((t, a, b) for a, b in chunks)

        def collate(batch: list[tuple[int, int, int]]) -> dict[str, Any]:
            width = max(b - a for _, a, b in batch) + 2
            ids = torch.full((len(batch), width), self._pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            feats = torch.zeros((len(batch), width, 3)) if self.is_student else None
            for r, (t, a, b) in enumerate(batch):
                ids[r, 0] = self._cls
                ids[r, 1: 1 + b - a] = torch.from_numpy(per_text[t][0][a:b])
                ids[r, 1 + b - a] = self._sep
                mask[r, : b - a + 2] = 1
                if feats is not None:
                    feats[r, 1: 1 + b - a] = torch.from_numpy(per_text[t][3][a:b])
            out = {"input_ids": ids, "attention_mask": mask}
            if feats is not None:
                out["features"] = feats
            return out

        model, keep = self._model, self._keep

        def forward(tensors: dict[str, Any]) -> Any:
            if self.is_student:
                logits = model(tensors["input_ids"], tensors["attention_mask"], tensors["features"])
            else:
                logits = model(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]).logits
            return torch.softmax(logits.float(), dim=-1)[..., keep]

        rows = self.engine.run(items, lengths=[b - a + 2 for _, a, b in items], collate=collate,
                               forward=forward, desc="Token classification")
        probs_of: list[list[np.ndarray]] = [[] for _ in texts]
        for (t, a, b), row in zip(items, rows, strict=True):
            probs_of[t].append(row[1: 1 + b - a].numpy())
        return [self._words(texts[t], *per_text[t][:3], probs_of[t]) for t in range(len(texts))]

    def _words(self, text: str, ids: np.ndarray, off: np.ndarray, chunks: list[tuple[int, int]],
               chunk_probs: list[np.ndarray]) -> WordProbabilities:
        empty = WordProbabilities(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
        if not chunks:
            return empty
        probs = np.concatenate(chunk_probs).astype(np.float64)
        begin = self._begin[ids].copy()
        begin[[a for a, _ in chunks]] = True  # every chunk starts a word, as in LLMLingua-2
        valid = ~self._special[ids]
        begin, ids_v, off, probs = begin[valid], ids[valid], off[valid], probs[valid]
        if len(ids_v) == 0:
            return empty
        begin[0] = True
        word = np.cumsum(begin) - 1
        n_words = int(word[-1]) + 1
        if self.token_to_word == "mean":
            word_probs = np.bincount(word, weights=probs, minlength=n_words) / np.bincount(word, minlength=n_words)
        else:
            word_probs = probs[begin]
        first = np.nonzero(begin)[0]
        starts = off[first, 0]
        ends = np.maximum.reduceat(off[:, 1], first)
        punct = np.bincount(word, weights=~self._punct[ids_v], minlength=n_words) == 0
        # SentencePiece offsets can cover the space before a word: step over leading whitespace.
        cp = codepoints(text)
        if len(cp):
            lead = np.isin(cp[np.clip(starts, 0, len(cp) - 1)], _WHITESPACE) & (starts < ends)
            for i in np.nonzero(lead)[0]:
                s = int(starts[i])
                while s < ends[i] and text[s].isspace():
                    s += 1
                starts[i] = s
        keep = ends > starts
        return WordProbabilities(starts[keep], ends[keep], word_probs[keep], punct[keep])


# --- units, threshold and rendering ----------------------------------------------------------------------


@dataclass
class Units:
    """Keep/drop units of one document: character spans, the probability of each, and forced flags."""

    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    forced: np.ndarray


def is_entity_start(cp: np.ndarray) -> np.ndarray:
    """Upper-case letter (Latin, Latin-1, Greek, Cyrillic) or digit: the first character of a name or number."""
    return (((cp >= 65) & (cp <= 90)) | ((cp >= 192) & (cp <= 222) & (cp != 215)) | ((cp >= 48) & (cp <= 57))
            | ((cp >= 0x391) & (cp <= 0x3A9)) | ((cp >= 0x410) & (cp <= 0x42F)))


def build_units(text: str, words: WordProbabilities, protected: Sequence[re.Pattern[str]],
                forced: Sequence[re.Pattern[str]], force_digits: bool, keep_entities: bool = True) -> Units:
    """Group words into units: whitespace-free runs (edge punctuation apart), names and numbers (runs of
    capitalised or numeric words, with ``keep_entities``) and protected spans."""
    n = len(words.starts)
    if n == 0:
        return Units(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
    starts, ends, punct = words.starts, words.ends, words.punct
    # Words split by whitespace are apart; words split by nothing, or by characters the tokenizer dropped
    # (unknown tokens), belong together.
    spaces = np.concatenate([[0], np.cumsum(np.isin(codepoints(text), _WHITESPACE))])  # whitespace before i
    gap = np.ones(n, dtype=bool)
    gap[1:] = spaces[starts[1:]] > spaces[ends[:-1]]
    group = np.cumsum(gap) - 1
    idx = np.arange(n)
    big = n + 1
    first_word = np.minimum.reduceat(np.where(punct, big, idx), np.nonzero(gap)[0])
    last_word = np.maximum.reduceat(np.where(punct, -1, idx), np.nonzero(gap)[0])
    core = (idx >= first_word[group]) & (idx <= last_word[group])
    new = gap.copy()
    new[1:] |= ~(core[1:] & core[:-1])
    unit = np.cumsum(new) - 1
    cp = codepoints(text)
    if keep_entities:
        # Consecutive units that start with a capital or a digit ("Wilhelm Conrad Röntgen", "May 18") and are
        # not punctuation stay together; the unit then counts as much as its strongest word.
        firsts = np.nonzero(new)[0]
        unit_punct = np.minimum.reduceat(punct.astype(np.int8), firsts).astype(bool)
        entity = is_entity_start(cp[starts[firsts]]) & ~unit_punct
        join = np.zeros(len(firsts), dtype=bool)
        join[1:] = entity[1:] & entity[:-1]
        unit = (np.cumsum(~join) - 1)[unit]
    # Protected spans: every unit that overlaps one joins it.
    spans = sorted((m.start(), m.end()) for p in protected for m in p.finditer(text) if m.end() > m.start())
    if spans:
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        span_s = np.asarray([s for s, _ in merged])
        span_e = np.asarray([e for _, e in merged])
        k = np.searchsorted(span_s, ends, side="left") - 1  # last span starting before the word ends
        inside = (k >= 0) & (span_e[np.clip(k, 0, None)] > starts)
        same = np.zeros(n, dtype=bool)
        same[1:] = inside[1:] & inside[:-1] & (k[1:] == k[:-1])
        # A new unit starts where the unit changes, unless both words lie in the same protected span; a unit
        # that straddles a span's edge therefore joins the span.
        unit_new = np.ones(n, dtype=bool)
        unit_new[1:] = (unit[1:] != unit[:-1]) & ~same[1:]
        unit = np.cumsum(unit_new) - 1
    n_units = int(unit[-1]) + 1
    firsts = np.nonzero(np.r_[True, unit[1:] != unit[:-1]])[0]
    u_starts = starts[firsts]
    u_ends = np.maximum.reduceat(ends, firsts)
    if spans:
        # A protected unit covers its whole span, characters the tokenizer dropped included.
        lasts = np.r_[firsts[1:] - 1, n - 1]
        head = inside[firsts]
        u_starts[head] = np.minimum(u_starts[head], span_s[k[firsts][head]])
        tail = inside[lasts]
        u_ends[tail] = np.maximum(u_ends[tail], span_e[k[lasts][tail]])
    u_probs = np.maximum.reduceat(words.probs, firsts)
    if spans:  # a protected span counts as the mean of its words, not its strongest one
        mean = np.bincount(unit, weights=words.probs, minlength=n_units) / np.bincount(unit, minlength=n_units)
        u_probs = np.where(inside[firsts], mean, u_probs)
    u_forced = np.zeros(n_units, dtype=bool)
    if forced or force_digits:
        for i in range(n_units):  # per unit, only when forcing is asked for
            piece = text[u_starts[i]:u_ends[i]]
            if (force_digits and any(ch.isdigit() for ch in piece)) or any(p.search(piece) for p in forced):
                u_forced[i] = True
    return Units(u_starts, u_ends, u_probs, u_forced)


def render(text: str, starts: np.ndarray, ends: np.ndarray, keep: np.ndarray) -> str:
    """Kept units in order: adjacent kept units keep their original spacing, a dropped stretch becomes a space."""
    kept = np.nonzero(keep)[0]
    if len(kept) == 0:
        return ""
    breaks = np.nonzero(np.diff(kept) > 1)[0]
    run_first = kept[np.r_[0, breaks + 1]]
    run_last = kept[np.r_[breaks, len(kept) - 1]]
    pieces = []
    prev_end = None
    for a, b in zip(starts[run_first].tolist(), ends[run_last].tolist(), strict=True):
        if prev_end is not None:
            pieces.append("\n" if "\n" in text[prev_end:a] else " ")
        pieces.append(text[a:b])
        prev_end = b
    return "".join(pieces)


def _compile(patterns: Sequence[str | re.Pattern[str]], what: str) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            out.append(p)
        elif isinstance(p, str) and p:
            out.append(re.compile(p, re.DOTALL))
        else:
            raise ValueError(f"{what} must be non-empty str or compiled patterns, but got {p!r}")
    return out


class TokenClassificationCompressor(BaseCompressor):
    """Keeps the words a token classifier labels keep, with one threshold that meets the budget exactly.

    Args:
        model_name_or_path: "contextzip-token-clf" (the distilled offline default), another registered name,
            a local path or hub id of an ``AutoModelForTokenClassification`` with a keep label, for example
            "microsoft/llmlingua-2-xlm-roberta-large-meetingbank".
        device, dtype, batch_size: the shared engine's settings.
        max_seq_len: tokens per chunk (special tokens included).
        token_to_word: "mean" or "first" (how sub-word probabilities become a word's).
        force_tokens: literal tokens or regular expressions whose units are always kept first.
        force_digits: keep every unit that contains a digit first.
        protected_patterns: regular expressions of spans kept or dropped whole (code, URLs, e-mail addresses,
            JSON keys, quoted strings by default); ``()`` for none.
        keep_entities: keep runs of capitalised or numeric words ("Wilhelm Conrad Röntgen", "May 18") whole,
            scored by their strongest word.
        boundary_tokens, keep_label: see :class:`TokenKeepScorer`.
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "token-classification"
    uses_query = False

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int = 64,
        max_seq_len: int = 512,
        token_to_word: Literal["mean", "first"] = "mean",
        force_tokens: Sequence[str | re.Pattern[str]] = (),
        force_digits: bool = False,
        protected_patterns: Sequence[str | re.Pattern[str]] = PROTECTED_PATTERNS,
        keep_entities: bool = True,
        boundary_tokens: tuple[str, str] | None = None,
        keep_label: int | None = None,
        scorer: TokenKeepScorer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(force_tokens, str) or isinstance(protected_patterns, str):
            raise TypeError("force_tokens and protected_patterns take a sequence of patterns, not one str")
        self.force_tokens = _compile([re.escape(t) if isinstance(t, str) and t.isalnum() else t
                                      for t in force_tokens], "force_tokens")
        self.force_digits = bool(force_digits)
        self.protected = _compile(protected_patterns, "protected_patterns")
        self.keep_entities = bool(keep_entities)
        self.scorer = scorer or TokenKeepScorer(
            model_name_or_path, ScoringEngine(device=device, dtype=dtype, batch_size=batch_size,
                                              max_batch_tokens=max(16384, 64 * max_seq_len)),
            max_seq_len=max_seq_len, token_to_word=token_to_word, boundary_tokens=boundary_tokens,
            keep_label=keep_label,
        )

    def warm_up(self) -> None:
        self.scorer.warm_up()

    # --- scoring hooks ----------------------------------------------------------------------------------

    def _unit_scores(self, requests: list[CompressionRequest], units: list[list[Units]],
                     sentence_scores: list[Any] | None = None) -> list[list[np.ndarray]]:
        """The score each unit is ranked by; the query-aware subclass mixes in query relevance."""
        return [[u.probs for u in doc_units] for doc_units in units]

    def _strategy(self, request: CompressionRequest) -> str:
        return "token classification: one keep-probability threshold across documents"

    # --- compression ------------------------------------------------------------------------------------

    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        return self._compress_batch([request])[0]

    def _compress_batch(self, requests: list[CompressionRequest],
                        sentence_scores: list[Any] | None = None) -> list[CompressedOutput]:
        """``sentence_scores``: per request, its sentences' ``(UnitBatch, Scored)`` already computed by the caller
        (the coarse-to-fine pipeline passes its coarse step's), used by the query-aware mode."""
        texts = [d.text for r in requests for d in r.documents]
        words = self.scorer.score(texts)
        units: list[list[Units]] = []
        k = 0
        for r in requests:
            units.append([build_units(d.text, words[k + i], self.protected, self.force_tokens, self.force_digits,
                                      self.keep_entities)
                          for i, d in enumerate(r.documents)])
            k += len(r.documents)
        scores = self._unit_scores(requests, units, sentence_scores)
        return [self._select(r, u, s) for r, u, s in zip(requests, units, scores, strict=True)]

    def _select(self, req: CompressionRequest, units: list[Units], scores: list[np.ndarray]) -> CompressedOutput:
        counter = req.counter
        doc_of = np.concatenate([np.full(len(u.starts), d) for d, u in enumerate(units)] or [np.zeros(0, int)])
        score = np.concatenate(scores or [np.zeros(0)]).astype(np.float64)
        forced = np.concatenate([u.forced for u in units] or [np.zeros(0, bool)])
        rank_key = np.where(forced, 2.0 + score, score)
        order = np.lexsort((np.arange(len(score)), -rank_key))  # best first, ties keep the earlier unit
        offsets = np.cumsum([0] + [len(u.starts) for u in units])

        def build(keep: np.ndarray) -> tuple[str, list[str]]:
            per_doc = [render(req.documents[d].text, u.starts, u.ends, keep[offsets[d]:offsets[d + 1]])
                       for d, u in enumerate(units)]
            return req.separator.join(t for t in per_doc if t), per_doc

        def top(n: int) -> np.ndarray:
            keep = np.zeros(len(score), dtype=bool)
            keep[order[:n]] = True
            return keep

        # Bisection on how many of the best units to keep: the count of the rendered text decides.
        lo, hi = 0, len(score)
        best_keep = top(0)
        best_text, best_docs = "", [""] * len(units)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            keep = top(mid)
            text, per_doc = build(keep)
            if counter.count(text) <= req.budget:
                lo, best_keep, best_text, best_docs = mid, keep, text, per_doc
            else:
                hi = mid - 1
        used = counter.count(best_text)
        threshold = float(rank_key[order[lo - 1]]) if lo > 0 else float("inf")
        # A big unit (a protected span) right below the threshold can leave budget unused: try the next few.
        if used < 0.95 * req.budget:
            for i in order[lo: lo + 64].tolist():
                keep = best_keep.copy()
                keep[i] = True
                text, per_doc = build(keep)
                n = counter.count(text)
                if n <= req.budget:
                    best_keep, best_text, best_docs, used = keep, text, per_doc, n
                    if used >= 0.95 * req.budget:
                        break
        full = [bool(best_keep[offsets[d]:offsets[d + 1]].all()) and offsets[d + 1] > offsets[d]
                for d in range(len(units))]
        doc_scores = [float(np.max(s)) if len(s) else None for s in scores]
        return CompressedOutput(
            text=best_text, document_texts=best_docs, document_full=full, scores=doc_scores,
            strategy=self._strategy(req),
            extra={"threshold": threshold, "kept_units": int(best_keep.sum()), "units": int(len(score)),
                   "kept_spans": [(int(doc_of[i]), int(s), int(e)) for i, s, e in zip(
                       np.nonzero(best_keep)[0].tolist(),
                       np.concatenate([u.starts for u in units] or [np.zeros(0, int)])[best_keep].tolist(),
                       np.concatenate([u.ends for u in units] or [np.zeros(0, int)])[best_keep].tolist(),
                       strict=True)]},
        )
