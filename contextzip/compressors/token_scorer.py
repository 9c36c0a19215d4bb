"""Word keep probabilities from a token classifier (LLMLingua-2 style), batched through the shared engine.

A :class:`~contextzip.scorers.TokenScorer`: any Hugging Face ``AutoModelForTokenClassification`` with a keep
label, or contextzip's distilled student. See :mod:`contextzip.compressors.token_classification` for how words
and probabilities are defined.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Sequence
from dataclasses import astuple
from typing import Any, Literal

import numpy as np

from contextzip.cache import output_cache
from contextzip.compressors.student import is_student, load_student, token_features
from contextzip.engine import ScoringEngine, pad_batch
from contextzip.models import cached_model, load_pretrained, quiet_loading
from contextzip.scorers import WordProbabilities
from contextzip.segment import WHITESPACE_CODEPOINTS, codepoints, encodable, split_sentences, unspaced

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "contextzip-token-clf"

__all__ = ["DEFAULT_MODEL", "TokenKeepScorer", "WordProbabilities"]


def _split_unknown(text: str, cp: np.ndarray, unk: int, begin: np.ndarray, ids: np.ndarray, off: np.ndarray,
                   probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unknown tokens over text without spaces (a run of emoji, a Thai phrase) split into grapheme clusters, each
    a word with the token's probability, so such text is not one word that no budget can hold."""
    wide = np.nonzero((ids == unk) & (off[:, 1] - off[:, 0] > 1))[0]
    wide = [k for k in wide.tolist() if unspaced(cp[off[k, 0]:off[k, 1]]).any()]
    if not wide:
        return begin, ids, off, probs
    import regex  # tiktoken's own dependency: grapheme clusters (\X)

    pieces, last = [], 0
    for k in wide:
        pieces.append((begin[last:k], ids[last:k], off[last:k], probs[last:k]))
        s0 = int(off[k, 0])
        spans = [(s0 + m.start(), s0 + m.end()) for m in regex.finditer(r"\X", text[s0:int(off[k, 1])])]
        n = len(spans)
        pieces.append((np.ones(n, bool), np.full(n, unk, np.int64), np.asarray(spans, np.int64).reshape(-1, 2),
                       np.full(n, probs[k])))
        last = k + 1
    pieces.append((begin[last:], ids[last:], off[last:], probs[last:]))
    return tuple(np.concatenate([p[j] for p in pieces]) for j in range(4))  # type: ignore[return-value]


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
        cache: where the words and probabilities of texts seen before are kept (:mod:`contextzip.cache`): a
            backend, a URL, ``False`` for none, ``None`` for the process default (off unless set).
        backend: "torch" (default) or "onnx": a Hugging Face token classifier exported once to float32 ONNX and
            run by ONNX Runtime on the CPU (:class:`~contextzip.onnx_embedder.OnnxTokenClassifier`: 1.8-2.0x
            torch's float32 speed here); not for contextzip students, whose inputs include word features.
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
        cache: Any = None,
        backend: Literal["torch", "onnx"] = "torch",
    ) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be 'torch' or 'onnx', but got {backend!r}")
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
        self.backend = backend
        self._model: Any = None
        self.cache = output_cache(cache, lambda: (f"keep|{model_name_or_path}|{max_seq_len}|{token_to_word}|"
                                                  f"{boundary_tokens}|{keep_label}|"
                                                  f"{'onnx-fp32' if backend == 'onnx' else self.engine.dtype}"),
                                  model_name_or_path)

    # --- loading ----------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from contextzip.model_registry import resolve_model_path

        path = resolve_model_path(self.model_name_or_path)
        self.is_student = is_student(path)
        if self.backend == "onnx" and self.is_student:
            raise ValueError(f"backend='onnx' runs Hugging Face token classifiers; {self.model_name_or_path!r} is a "
                             "contextzip student (its inputs include word features): use backend='torch'")
        if self.backend == "onnx":
            import transformers

            from contextzip.onnx_embedder import OnnxTokenClassifier

            def load_onnx() -> tuple[Any, Any]:
                with quiet_loading():
                    return transformers.AutoTokenizer.from_pretrained(path), OnnxTokenClassifier(path)

            tokenizer, model = cached_model((path, "onnx-token-classification"), load_onnx)
            keep = self._keep_index(transformers.AutoConfig.from_pretrained(path))
        elif self.is_student:
            engine = self.engine

            def load() -> tuple[Any, Any, dict[str, Any]]:
                tokenizer, model, config = load_student(path)
                return tokenizer, engine.prepare(model), config

            tokenizer, model, config = cached_model((path, "contextzip-student", engine.device, str(engine.dtype)),
                                                    load)
            keep = int(config.get("keep_label", 1))
        else:
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
        self._unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else -1

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
        if self.cache is None:
            return self._score(texts)
        found = self.cache.lookup(list(texts), lambda todo: [astuple(w) for w in self._score(todo)])
        return [WordProbabilities(*f) for f in found]

    def _score(self, texts: Sequence[str]) -> list[WordProbabilities]:
        import torch

        self.warm_up()
        # The Rust tokenizer directly: transformers' conversion of every encoding costs more than encoding.
        encodings = self._backend.encode_batch([encodable(t) for t in texts], add_special_tokens=False)
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
            out = pad_batch([[self._cls, *per_text[t][0][a:b].tolist(), self._sep] for t, a, b in batch], self._pad)
            if self.is_student:
                feats = torch.zeros((*out["input_ids"].shape, 3))
                for r, (t, a, b) in enumerate(batch):
                    feats[r, 1: 1 + b - a] = torch.from_numpy(per_text[t][3][a:b])
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
        cp = codepoints(text)
        if len(cp) and len(off):  # in scripts without spaces (Thai, Chinese, emoji), every token may start a word
            begin |= unspaced(cp[np.clip(off[:, 0], 0, len(cp) - 1)]) & (off[:, 1] > off[:, 0])
        valid = ~self._special[ids] | (ids == self._unk)  # an unknown token still covers text
        begin, ids_v, off, probs = begin[valid], ids[valid], off[valid], probs[valid]
        if len(ids_v) == 0:
            return empty
        begin, ids_v, off, probs = _split_unknown(text, cp, self._unk, begin, ids_v, off, probs)
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
        if len(cp):
            lead = np.isin(cp[np.clip(starts, 0, len(cp) - 1)], WHITESPACE_CODEPOINTS) & (starts < ends)
            for i in np.nonzero(lead)[0]:
                s = int(starts[i])
                while s < ends[i] and text[s].isspace():
                    s += 1
                starts[i] = s
        keep = ends > starts
        return WordProbabilities(starts[keep], ends[keep], word_probs[keep], punct[keep])
