"""GistCompressor: each document segment becomes k soft tokens in a decoder's input embeddings.

segment (:meth:`GistEncoder.segments`: runs of whole sentences) -> choose k from the budget -> if even one gist per
segment does not fit, rank the segments against the query (MiniLM pooled cosine) and keep the best -> gists
(frozen MiniLM token states through the trained :class:`GistProjector`, looked up in a :class:`GistCache` first).

The budget counts **decoder positions**: ``target_tokens`` / ``rate`` are in the decoder's tokens (SmolLM2's by
default), so a gist result at 8 positions and a text compressor at 8 SmolLM2 tokens cost the reader the same.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from contextzip.compressors.base import BaseCompressor, BudgetArg, DocumentsInput, RateArg
from contextzip.engine import ScoringEngine
from contextzip.errors import BudgetError, ModelNotAvailableError
from contextzip.gist.cache import GistCache
from contextzip.gist.embeds import GIST_PLACEHOLDER
from contextzip.gist.encoder import GistEncoder
from contextzip.gist.projector import CONFIG_NAME, GistProjector
from contextzip.gist.types import GistResult, GistSegment
from contextzip.tokens import HFTokenCounter
from contextzip.types import CompressionRequest, DocumentResult, DocumentStatus

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_PROJECTOR", "GIST_SIZES", "GistCompressor"]

DEFAULT_PROJECTOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "gist")
GIST_SIZES = (1, 2, 4, 8, 16)  # the k a budget chooses from (an explicit k= may be any 1..max_gists)


def resolve_projector(projector: GistProjector | str | os.PathLike[str] | None) -> GistProjector | str:
    """A projector object as given, or the folder it is to be loaded from (checked now, loaded on warm-up)."""
    if isinstance(projector, GistProjector):
        return projector
    if projector is not None and not isinstance(projector, (str, os.PathLike)):
        raise TypeError(f"projector must be a GistProjector, a folder or None, but got {type(projector).__name__}")
    folder = os.fspath(projector) if projector is not None else DEFAULT_PROJECTOR
    if not os.path.exists(os.path.join(folder, CONFIG_NAME)):
        where = "the packaged default" if projector is None else repr(folder)
        raise ModelNotAvailableError(
            f"no trained gist projector at {where} ({os.path.join(folder, CONFIG_NAME)} is missing). Train it with "
            "`python training/train_gist.py` (writes contextzip/data/gist/), or pass projector=<folder> or a "
            "GistProjector"
        )
    return folder


@dataclass
class _Plan:
    """One request on its way: its segments, the k and how many segments fit."""

    request: CompressionRequest
    segments: list[GistSegment]
    texts: list[str]
    k: int
    capacity: int
    sizes: tuple[int, ...]  # the k the budget could have chosen (empty: k was given)
    keep: list[int] | None = None  # indices into segments, in order
    similarity: np.ndarray | None = None


class GistCompressor(BaseCompressor):
    """Documents as gist vectors for a self-hosted decoder (``smollm2-135m`` by default).

    k per segment is the largest of 1, 2, 4, 8, 16 (up to the projector's ``max_gists``) such that
    ``segments x k <= budget`` and k is at most the segments' mean decoder-token count (a 5-token document gets 4
    gists, not 16); ``compress(..., k=4)`` forces it. When even one gist per segment is over the
    budget, the segments most similar to the query are kept (without a query, the first ones) and the others are
    reported in ``GistResult.dropped`` and by each document's status. The result's ``text`` is the prompt fragment
    (one placeholder per kept segment); the vectors are in ``result.vectors`` / ``result.context_gists()``.

    Segments are encoded once: the cache holds each segment's ``max_gists`` gists under its content address, and
    a request for k takes the first k of them (the projector's gists are nested, so that equals projecting with k).

    Args:
        projector: a :class:`GistProjector`, a folder saved by ``save_pretrained``, or ``None`` for the packaged
            ``contextzip/data/gist`` (trained by ``python training/train_gist.py``).
        decoder: the decoder the gists are for (its tokens are the budget's unit).
        encoder: a :class:`GistEncoder` to share (default: the projector's encoder, on this compressor's engine).
        cache: a :class:`GistCache` to share; by default a new in-memory one (with ``cache_dir``: also on disk).
        cache_dir: a folder for the on-disk store of the default cache.
        device, dtype, batch_size: the scoring engine of the encoder (and of the decoder in :meth:`generate`).
        max_wordpieces: encoder word pieces per segment (default: what the projector was trained with, else 256).
        separator: what joins documents (for counting the original tokens) and the placeholders of the fragment.
    """

    name = "gist"
    uses_query = True
    compresses_within_budget = True  # always gists: a result is vectors, never the text passed through

    def __init__(self, projector: GistProjector | str | os.PathLike[str] | None = None, *,
                 decoder: str = "smollm2-135m", encoder: GistEncoder | None = None, cache: GistCache | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, device: str | None = None,
                 dtype: str | None = "float32", batch_size: int | None = None, max_wordpieces: int | None = None,
                 separator: str = "\n\n") -> None:
        if not isinstance(decoder, str) or not decoder:
            raise TypeError(f"decoder must be a model name or path, but got {decoder!r}")
        super().__init__(token_counter=HFTokenCounter(decoder), separator=separator)  # the decoder's tokens, lazily
        if encoder is not None and not isinstance(encoder, GistEncoder):
            raise TypeError(f"encoder must be a GistEncoder, but got {type(encoder).__name__}")
        if cache is not None and not isinstance(cache, GistCache):
            raise TypeError(f"cache must be a GistCache, but got {type(cache).__name__}")
        if cache is not None and cache_dir is not None:
            raise ValueError("give cache or cache_dir, not both (cache_dir configures the default cache)")
        self._projector_source = resolve_projector(projector)
        self.decoder = decoder
        self.engine = encoder.engine if encoder is not None else ScoringEngine(device=device, dtype=dtype,
                                                                               batch_size=batch_size)
        self._encoder_arg = encoder
        self._max_wordpieces = max_wordpieces
        self.cache = cache if cache is not None else GistCache(cache_dir)
        self.projector: GistProjector | None = None
        self.encoder: GistEncoder | None = None
        self._hash_memo: tuple[tuple[Any, ...], str] | None = None
        self._lock = threading.Lock()

    # --- loading --------------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the projector and the encoder (idempotent; the decoder loads in :meth:`generate` only)."""
        with self._lock:
            if self.projector is None:
                source = self._projector_source
                self.projector = source if isinstance(source, GistProjector) else GistProjector.from_pretrained(source)
                self.projector.eval()
                if self.projector.config.decoder != self.decoder:
                    logger.warning("the gist projector was trained for %r, not %r", self.projector.config.decoder,
                                   self.decoder)
            if self.encoder is None:
                if self._encoder_arg is not None:
                    self.encoder = self._encoder_arg
                else:
                    width = self._max_wordpieces or _trained_wordpieces(self._projector_source)
                    self.encoder = GistEncoder(self.projector.config.encoder, self.engine, max_wordpieces=width)
                self.encoder.warm_up()

    def projector_hash(self) -> str:
        """The projector's :meth:`~GistProjector.weights_hash`, recomputed only when a parameter changed (in place
        or replaced): every cached gist is keyed on it."""
        projector = self.projector
        assert projector is not None  # warm_up ran
        state = tuple((name, id(p), p._version) for name, p in projector.state_dict(keep_vars=True).items())
        memo = self._hash_memo
        if memo is None or memo[0] != state:
            memo = self._hash_memo = (state, projector.weights_hash())
        return memo[1]

    @property
    def trained_on(self) -> tuple[str, ...]:
        """Evaluation data sets the projector was trained on (``contextzip eval`` marks results on them in-sample)."""
        self.warm_up()
        return tuple(self.projector.card.get("eval_sets_trained_on", ()))  # type: ignore[union-attr]

    def decoder_model(self) -> tuple[Any, Any]:
        """(tokenizer, model) of the decoder, loaded once per process (:func:`contextzip.causal_lm.load_causal_lm`)."""
        from contextzip.causal_lm import load_causal_lm

        return load_causal_lm(self.decoder, self.engine)

    # --- public API -----------------------------------------------------------------------------------------

    def compress(self, documents: DocumentsInput, query: str | None = None, *, target_tokens: int | None = None,
                 rate: float | None = None, k: int | None = None) -> GistResult:
        """Gists of ``documents`` within ``target_tokens`` decoder positions (or ``rate`` of their decoder tokens);
        ``k`` forces the gists per segment."""
        return self.compress_batch([(query, documents)], target_tokens=target_tokens, rate=rate, k=k)[0]

    def compress_batch(self, items: Sequence[tuple[str | None, DocumentsInput]], *,  # type: ignore[override]
                       target_tokens: BudgetArg = None, rate: RateArg = None,
                       k: int | None = None) -> list[GistResult]:
        """Many ``(query, documents)`` pairs; the encoder runs once over every segment not in the cache."""
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k <= 0):
            raise ValueError(f"k must be a positive int (gists per segment) or None, but got {k!r}")
        start = time.perf_counter()
        requests = self._requests(items, target_tokens, rate)
        self.warm_up()
        results = self._compress_batch(requests, k)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(requests))
        return [replace(r, elapsed_ms=elapsed) for r in results]

    def generate(self, questions: Sequence[str], documents_per_question: Sequence[DocumentsInput], *,
                 target_tokens: BudgetArg = None, rate: RateArg = None, k: int | None = None,
                 max_new_tokens: int = 24, batch_size: int = 8, **generate_kwargs: Any) -> list[str]:
        """The decoder's replies to each question with its documents as gists, in the evaluation reader's prompt
        (:class:`contextzip.eval.readers.ReaderPrompt`), batched across questions (greedy by default)."""
        from contextzip.eval.readers import ReaderPrompt
        from contextzip.gist.embeds import chat_prompt, generate

        if isinstance(questions, str) or len(questions) != len(documents_per_question):
            raise ValueError("give a sequence of questions and one documents input per question")
        results = self.compress_batch(list(zip(questions, documents_per_question, strict=True)),
                                      target_tokens=target_tokens, rate=rate, k=k)
        tokenizer, model = self.decoder_model()
        prompts = [chat_prompt(tokenizer, ReaderPrompt(q, r.prompt_fragment() or None).messages())
                   for q, r in zip(questions, results, strict=True)]
        return generate(model, tokenizer, prompts, [r.context_gists() for r in results],
                        max_new_tokens=max_new_tokens, batch_size=batch_size, **generate_kwargs)

    # --- the stages -----------------------------------------------------------------------------------------

    def _compress_batch(self, requests: list[CompressionRequest],  # type: ignore[override]
                        k: int | None = None) -> list[GistResult]:
        assert self.projector is not None and self.encoder is not None
        max_gists = self.projector.config.max_gists
        if k is not None and k > max_gists:
            raise ValueError(f"k must be at most the projector's max_gists ({max_gists}), but got {k}")
        plans = [self._plan(r, k, max_gists) for r in requests]
        memo: dict[str, Any] = {}  # token states computed in this call, shared by the two lookups
        encoder_name = self.encoder.model_name_or_path
        projector_hash = self.projector_hash()
        ranked = [p for p in plans if len(p.segments) > p.capacity and p.request.query]
        if ranked:
            wanted = [(t, 0) for p in ranked for t in [p.request.query, *p.texts]]  # type: ignore[list-item]
            pooled = self.cache.lookup(encoder_name, projector_hash, wanted, lambda m: self._pooled(m, memo))
            at = 0
            for p in ranked:
                query, rows = pooled[at], np.stack(pooled[at + 1:at + 1 + len(p.texts)])
                at += 1 + len(p.texts)
                p.similarity = rows @ query
        for p in plans:
            p.keep = _choose(len(p.segments), p.capacity, p.similarity)
        # Gists are nested (the first k of the max_gists queries), so one cache entry per segment, at max_gists,
        # serves every k: a passage is encoded once whatever budget or k later requests ask for.
        wanted = [(p.texts[i], max_gists) for p in plans for i in p.keep or []]
        vectors = self.cache.lookup(encoder_name, projector_hash, wanted, lambda m: self._gists(m, memo))
        out, at = [], 0
        for p in plans:
            n = len(p.keep or [])
            out.append(self._result(p, [v[:p.k] for v in vectors[at:at + n]]))
            at += n
        return out

    def _plan(self, request: CompressionRequest, k: int | None, max_gists: int) -> _Plan:
        assert self.encoder is not None
        spans = [(i, s, e) for i, d in enumerate(request.documents) if d.text.strip()
                 for s, e in self.encoder.segments(d.text)]
        texts = [request.documents[i].text[s:e] for i, s, e in spans]
        tokens = self.token_counter.count_many(texts)
        limit = self.encoder.max_wordpieces - 2
        pieces = self.encoder.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        segments = [GistSegment(i, s, e, n, 0, len(ids) > limit)
                    for (i, s, e), n, ids in zip(spans, tokens, pieces, strict=True)]
        budget = request.budget
        sizes: tuple[int, ...] = ()
        if k is None:
            sizes = tuple(size for size in GIST_SIZES if size <= max_gists)
            # No more gists per segment than its text has tokens on average: positions never outgrow the text.
            per_segment = max(1, sum(tokens) // max(1, len(segments)))
            fitting = [size for size in sizes if len(segments) * size <= budget and size <= per_segment]
            k = max(fitting) if fitting and segments else 1
        elif segments and k > budget:
            raise BudgetError(f"k={k} gists per segment do not fit a budget of {budget} decoder positions")
        return _Plan(request, segments, texts, k, budget // k, sizes)

    def _states(self, texts: list[str], memo: dict[str, Any]) -> list[Any]:
        assert self.encoder is not None
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        memo.update(zip(todo, self.encoder.states(todo), strict=True))
        return [memo[t] for t in texts]

    def _pooled(self, missing: list[tuple[str, int]], memo: dict[str, Any]) -> list[np.ndarray]:
        """Mean-pooled, unit-length encoder vectors (what all-MiniLM-L6-v2 embeds a sentence as)."""
        out = []
        for s in self._states([t for t, _ in missing], memo):
            v = s.mean(0).numpy().astype(np.float32)
            out.append(v / max(float(np.linalg.norm(v)), 1e-12))
        return out

    def _gists(self, missing: list[tuple[str, int]], memo: dict[str, Any]) -> list[np.ndarray]:
        import torch

        assert self.projector is not None
        states = self._states([t for t, _ in missing], memo)
        out: list[np.ndarray | None] = [None] * len(missing)
        for k in sorted({k for _, k in missing}):
            idx = [i for i, (_, kk) in enumerate(missing) if kk == k]
            padded, mask = GistEncoder.stack([states[i] for i in idx])
            device = next(self.projector.parameters()).device
            with torch.no_grad():
                rows = self.projector(padded.to(device), mask.to(device), k).float().cpu().numpy()
            for i, row in zip(idx, rows, strict=True):
                out[i] = row
        return out  # type: ignore[return-value]

    def _result(self, plan: _Plan, vectors: list[np.ndarray]) -> GistResult:
        req, k = plan.request, plan.k
        keep = set(plan.keep or [])
        kept = tuple(replace(s, k=k) for i, s in enumerate(plan.segments) if i in keep)
        dropped = tuple(s for i, s in enumerate(plan.segments) if i not in keep)
        scores = _document_scores(plan) if plan.similarity is not None else None
        docs = []
        for i, d in enumerate(req.documents):
            mine = [s for s in kept if s.doc == i]
            lost = [s for s in dropped if s.doc == i]
            if not mine:
                status = DocumentStatus.DROPPED
            elif lost or any(s.truncated for s in mine):
                status = DocumentStatus.SHORTENED
            else:
                status = DocumentStatus.KEPT
            docs.append(DocumentResult(
                id=d.id or str(i), index=i, original_tokens=req.document_tokens[i], compressed_tokens=k * len(mine),
                status=status, text=self.separator.join([GIST_PLACEHOLDER] * len(mine)),
                score=scores[i] if scores is not None else None, metadata=d.metadata))
        positions = k * len(kept)
        ranking = None
        if scores is not None:
            ranking = tuple(docs[i].id for i in sorted((i for i in range(len(docs)) if scores[i] is not None),
                                                       key=lambda i: -scores[i]))  # type: ignore[operator]
        result = GistResult(
            text="", original_tokens=req.original_tokens, compressed_tokens=positions, target_tokens=req.budget,
            documents=docs, compressor=self.name, query=req.query, token_counter=self.token_counter.name,
            strategy=f"gist: {len(kept)} segments x k={k}" if kept else "gist: no segments",
            under_budget_reason=_reason(plan, positions, len(dropped)), document_ranking=ranking,
            segments=kept, vectors=list(vectors), dropped=dropped, k=k if kept else None, positions=positions,
            equivalent_text_tokens=sum(s.text_tokens for s in kept), separator=self.separator,
            extra={"truncated_segments": sum(s.truncated for s in kept)},
        )
        return replace(result, text=result.prompt_fragment())

    def __repr__(self) -> str:
        return f"GistCompressor(decoder={self.decoder!r}, cache={self.cache!r})"


def _trained_wordpieces(source: GistProjector | str) -> int:
    """``--max-wordpieces`` the projector in folder ``source`` was trained with (256 when unrecorded)."""
    if isinstance(source, str):
        with open(os.path.join(source, CONFIG_NAME), encoding="utf-8") as fh:
            value = json.load(fh).get("args", {}).get("max_wordpieces")
        if isinstance(value, int) and value > 2:
            return value
    return 256


def _choose(n: int, capacity: int, similarity: np.ndarray | None) -> list[int]:
    """Which of ``n`` segments to keep: all that fit; past ``capacity``, the most similar (ties: the earlier), or
    the first ones without a query. In text order."""
    if n <= capacity:
        return list(range(n))
    if similarity is None:
        return list(range(capacity))
    order = np.lexsort((np.arange(n), -similarity))
    return sorted(int(i) for i in order[:capacity])


def _document_scores(plan: _Plan) -> list[float | None]:
    """Each document's best segment similarity, mapped to [0, 1] with 1 for the request's best document."""
    best: dict[int, float] = {}
    for s, sim in zip(plan.segments, plan.similarity.tolist(), strict=True):  # type: ignore[union-attr]
        best[s.doc] = max(best.get(s.doc, -1.0), (float(sim) + 1) / 2)
    top = max(best.values(), default=0.0)
    return [min(1.0, max(0.0, best[i] / top)) if i in best and top > 0 else None
            for i in range(len(plan.request.documents))]


def _reason(plan: _Plan, positions: int, n_dropped: int) -> str | None:
    n, k, budget = len(plan.segments), plan.k, plan.request.budget
    if not n:
        return "input is empty" if not plan.request.original_tokens else "no segment has any text"
    if n_dropped:
        rule = "the most similar to the query" if plan.similarity is not None else "the first ones (no query)"
        return (f"{n_dropped} of {n} segments dropped: {n} segments x {k} gist(s) need {n * k} positions, over the "
                f"budget of {budget}; kept {n - n_dropped}, {rule}")
    if positions < 0.95 * budget:
        used = f"{n} segments x k={k} use {positions} of {budget} positions"
        if not plan.sizes:
            return f"{used} (k was given)"
        bigger = [size for size in plan.sizes if size > k]
        if not bigger:
            return f"{used}: k={k} is the most gists a segment gets"
        return f"{used}: k={bigger[0]} would need {n * bigger[0]}"
    return None
