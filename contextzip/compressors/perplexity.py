"""Perplexity pruning with a small causal LM: Selective Context / LLMLingua and question-aware LongLLMLingua.

Both compressors score the context with a causal language model (SmolLM2-135M-Instruct by default, any causal LM
by hub id or path) and keep the *phrases* that carry the most information, at contextzip's exact budget:

* :class:`PerplexityCompressor` (``perplexity``) keeps the phrases with the highest self-information
  ``-log p(token | preceding text)`` (Selective Context, Li et al. 2023; the token-level step of LLMLingua,
  Jiang et al. 2023). It ignores the question.
* :class:`LongPerplexityCompressor` (``long-perplexity``) follows LongLLMLingua (Jiang et al. 2024): documents are
  ranked by how well each predicts the question (``-log p(question | document)``, the coarse step); the best
  ones are re-scored with the question *before* them, and a phrase's importance mixes its question-conditioned
  self-information with its contrastive score (how much more predictable the question makes it). A document's
  rank adds a priority to its phrases, so better documents keep a larger share (the dynamic per-document ratio),
  and documents can be put in relevance order.

Unlike token-level pruning, units are whole words or phrases (a run of capitalised words or numbers such as
"Wilhelm Conrad Röntgen" or "December 2007" is one unit), so names and numbers are kept or dropped whole. The
output keeps its words in their original order (faithful), and its size is verified with the real token counter
(never over the budget). All documents of all requests are scored by one batched pass through the shared
:class:`~contextzip.engine.ScoringEngine`; long documents run in segments that reuse the KV cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contextzip.budget import Unit, fit_budget
from contextzip.causal_lm import CausalLMScorer
from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.engine import ScoringEngine
from contextzip.lexicon import is_name_or_number
from contextzip.relevance import bridge_relevance, document_title, minmax
from contextzip.segment import Span, split_words
from contextzip.stats import rank_scale

logger = logging.getLogger(__name__)

__all__ = ["LongPerplexityCompressor", "PerplexityCompressor", "split_phrases"]

_CONNECTORS = frozenset("of de da di du del della der den van von la le los las y al bin ibn the".split())
_CLOSING = tuple(".,;:!?)]}\"'”’»")
_OPENING = tuple("([{\"'“‘«")
_MAX_PHRASE_WORDS = 6
_REORDERS = ("original", "relevance")


def split_phrases(text: str) -> list[Span]:
    """Words of ``text``, with runs of capitalised words and numbers joined into one phrase.

    "awarded in 1901 to Wilhelm Conrad Röntgen, of Germany" gives "awarded", "in", "1901", "to",
    "Wilhelm Conrad Röntgen,", "of", "Germany". Lower-case connectors ("of", "de", "van", ...) join two
    capitalised words ("Bank of America"); punctuation, brackets and line breaks end a phrase.
    """
    words = split_words(text)
    spans: list[Span] = []
    i = 0
    while i < len(words):
        j = i
        if is_name_or_number(words[i].text):
            while j + 1 < len(words) and j - i + 1 < _MAX_PHRASE_WORDS:
                cur, nxt = words[j], words[j + 1]
                if cur.text.endswith(_CLOSING) or "\n" in text[cur.end:nxt.start] or nxt.text.startswith(_OPENING):
                    break
                if is_name_or_number(nxt.text):
                    j += 1
                    continue
                if (nxt.text.lower() in _CONNECTORS and j + 2 < len(words) and is_name_or_number(words[j + 2].text)
                        and "\n" not in text[nxt.end:words[j + 2].start] and not nxt.text.endswith(_CLOSING)):
                    j += 2
                    continue
                break
        start, end = words[i].start, words[j].end
        spans.append(Span(start, end, text[start:end]))
        i = j + 1
    return spans


@dataclass
class _Unit:
    doc: int
    start: int
    end: int
    tokens: list[int]          # indices into the document's LM tokens


@dataclass
class _Encoded:
    ids: list[list[int]]           # LM token ids per document
    units: list[_Unit]


def _units_for(doc: int, text: str, offsets: Sequence[tuple[int, int]]) -> list[_Unit]:
    """Phrases of one document, each with the LM tokens whose first visible character lies inside it."""
    phrases = split_phrases(text)
    units = [_Unit(doc, p.start, p.end, []) for p in phrases]
    if not units:
        return units
    starts = np.asarray([p.start for p in phrases])
    for t, (a, b) in enumerate(offsets):
        while a < b and text[a].isspace():
            a += 1
        if a >= b:
            continue
        k = int(np.searchsorted(starts, a, side="right")) - 1
        if k >= 0 and a < units[k].end:
            units[k].tokens.append(t)
    return units


def _phrase_scores(units: Sequence[_Unit], nll: np.ndarray, fallback: float) -> np.ndarray:
    out = np.empty(len(units))
    for k, u in enumerate(units):
        vals = nll[u.tokens] if u.tokens else np.empty(0)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if len(vals) else fallback
    return out


class _LMCompressor(BaseCompressor):
    """Shared model handling, encoding and exact-budget assembly of the perplexity compressors."""

    def __init__(
        self,
        model_name_or_path: str = "smollm2-135m",
        *,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int = 16,
        max_batch_tokens: int = 4096,
        segment_tokens: int = 256,
        scorer: CausalLMScorer | None = None,
        **kwargs,  # type: ignore[no-untyped-def]
    ) -> None:
        super().__init__(**kwargs)
        self.scorer = scorer or CausalLMScorer(
            model_name_or_path,
            ScoringEngine(device=device, dtype=dtype, batch_size=batch_size, max_batch_tokens=max_batch_tokens),
            segment_tokens=segment_tokens,
        )

    def warm_up(self) -> None:
        self.scorer.warm_up()

    def _encode(self, requests: Sequence[CompressionRequest]) -> list[_Encoded]:
        texts = [d.text for r in requests for d in r.documents]
        encoded = self.scorer.encode(texts)
        out, pos = [], 0
        for r in requests:
            ids, units = [], []
            for d, doc in enumerate(r.documents):
                doc_ids, offsets = encoded[pos]
                pos += 1
                ids.append(doc_ids)
                units.extend(_units_for(d, doc.text, offsets))
            out.append(_Encoded(ids, units))
        return out

    @staticmethod
    def _output(request: CompressionRequest, units: Sequence[_Unit], scores: np.ndarray,
                doc_order: Sequence[int] | None, strategy: str, doc_scores: list[float | None] | None,
                ranking: list[str] | None = None, extra: dict | None = None) -> CompressedOutput:
        fit = fit_budget(request.texts, [Unit(u.doc, u.start, u.end) for u in units], scores, request.budget,
                         request.counter, request.separator, doc_order=doc_order)
        return CompressedOutput(text=fit.text, document_texts=fit.doc_texts, document_full=fit.doc_full,
                                scores=doc_scores, strategy=strategy, tokens=fit.tokens, kept_spans=fit.kept,
                                threshold=fit.threshold, document_ranking=ranking, extra=extra)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name_or_path={self.scorer.model_name_or_path!r})"


class PerplexityCompressor(_LMCompressor):
    """Keep the words and phrases a small LM finds least predictable (Selective Context / LLMLingua).

    Every document is scored once, with its own text as the only context; a phrase's score is the mean
    self-information of its tokens, and the best phrases that fit the budget are kept in original order.
    The question is not used (see :class:`LongPerplexityCompressor`).

    Args:
        model_name_or_path: a causal LM: "smollm2-135m" (shipped offline), a hub id or a local path.
        device: "cuda", "mps", "cpu" or ``None`` (auto).
        dtype: "float32", "bfloat16", "float16" or "auto" (bfloat16 where the CPU has native kernels).
        batch_size, max_batch_tokens: the most sequences / padded tokens in one forward pass.
        segment_tokens: tokens per forward step; longer documents continue from the KV cache.
        scorer: a ready :class:`~contextzip.causal_lm.CausalLMScorer` to share one loaded model.
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "perplexity"
    uses_query = False

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        encoded = self._encode(requests)
        sep = self.scorer.separator_id
        sequences = [[sep, *ids] for enc in encoded for ids in enc.ids]
        nlls = self.scorer.token_nll(sequences, desc="Self-information")
        outputs, pos = [], 0
        for req, enc in zip(requests, encoded, strict=True):
            doc_nll = [n[1:] for n in nlls[pos:pos + len(enc.ids)]]
            pos += len(enc.ids)
            flat = np.concatenate([x for x in doc_nll if len(x)]) if any(len(x) for x in doc_nll) else np.zeros(1)
            fallback = float(np.nanmean(flat)) if np.isfinite(flat).any() else 0.0
            scores = np.empty(len(enc.units))
            for d in range(len(enc.ids)):
                ks = [k for k, u in enumerate(enc.units) if u.doc == d]
                scores[ks] = _phrase_scores([enc.units[k] for k in ks], doc_nll[d], fallback)
            self_information = [float(np.nanmean(x)) if len(x) and np.isfinite(x).any() else None for x in doc_nll]
            outputs.append(self._output(req, enc.units, scores, None, "self-information phrases (Selective Context)",
                                        None, extra={"document_self_information": self_information}))
        return outputs


class LongPerplexityCompressor(_LMCompressor):
    """Question-aware perplexity pruning (LongLLMLingua) at word/phrase granularity with an exact budget.

    1. Coarse: each document is scored by ``-mean log p(question | document)`` (the question, followed by
       "We can get the answer to this question in the given documents.", placed after the document, and the
       document's ``metadata["title"]`` before it when there is one), in one batched pass that also yields the
       document's own self-information. A document named by one of the two best documents inherits ``bridge``
       times their (normalised) score: the second hop of a multi-hop question, which the question alone rarely
       predicts.
    2. Documents in rank order become candidates until they hold ``candidate_factor`` times the budget.
    3. Fine: candidates are re-scored with the question before them. A phrase's importance is
       ``(1 - contrast_weight) * pct(conditioned self-information) + contrast_weight * pct(contrast)``, where
       ``contrast`` is how much the question lowers its tokens' surprisal and ``pct`` a rank in [0, 1] over the
       request's candidate phrases.
    4. A phrase's score adds ``document_priority * (1 - rank / (candidates - 1))``: the best document keeps the
       largest share of its phrases and later ones progressively less (the dynamic per-document ratio).
    5. Exact-budget assembly; documents appear in input order (``reorder="original"``) or best first
       (``reorder="relevance"``).

    Without a question it falls back to :class:`PerplexityCompressor`'s self-information ranking.

    Args:
        model_name_or_path, device, dtype, batch_size, max_batch_tokens, segment_tokens, scorer:
            see :class:`PerplexityCompressor`.
        document_priority: how strongly a document's rank decides how much of it is kept (>= 0).
        contrast_weight: share of the contrastive signal in a phrase's importance, in [0, 1].
        candidate_factor: candidates hold this many times the budget (>= 1).
        reorder: "original" or "relevance".
        use_titles: put ``metadata["title"]`` before each document when ranking it.
        bridge: share of a top document's score inherited by the documents it names (>= 0; 0 turns it off).
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "long-perplexity"
    uses_query = True
    question_suffix = " We can get the answer to this question in the given documents."

    def __init__(
        self,
        model_name_or_path: str = "smollm2-135m",
        *,
        document_priority: float = 1.0,
        contrast_weight: float = 0.5,
        candidate_factor: float = 1.5,
        reorder: str = "original",
        use_titles: bool = True,
        bridge: float = 0.5,
        **kwargs,  # type: ignore[no-untyped-def]
    ) -> None:
        if isinstance(bridge, bool) or not isinstance(bridge, (int, float)) or bridge < 0:
            raise ValueError(f"bridge must be a number >= 0, but got {bridge!r}")
        if not isinstance(document_priority, (int, float)) or document_priority < 0:
            raise ValueError(f"document_priority must be >= 0, but got {document_priority!r}")
        if not isinstance(contrast_weight, (int, float)) or not 0.0 <= contrast_weight <= 1.0:
            raise ValueError(f"contrast_weight must be in [0, 1], but got {contrast_weight!r}")
        if not isinstance(candidate_factor, (int, float)) or candidate_factor < 1.0:
            raise ValueError(f"candidate_factor must be >= 1, but got {candidate_factor!r}")
        if reorder not in _REORDERS:
            raise ValueError(f"reorder must be one of {list(_REORDERS)}, but got {reorder!r}")
        super().__init__(model_name_or_path, **kwargs)
        self.document_priority = float(document_priority)
        self.contrast_weight = float(contrast_weight)
        self.candidate_factor = float(candidate_factor)
        self.reorder = reorder
        self.use_titles = bool(use_titles)
        self.bridge = float(bridge)

    def _title_ids(self, titles: set[str]) -> dict[str, list[int]]:
        ordered = sorted(titles)
        return {t: ids for t, (ids, _) in zip(ordered, self.scorer.encode([t + "\n" for t in ordered]), strict=True)}

    def _question_ids(self, question: str, *, after: bool) -> list[int]:
        text = "\n\n" + question.strip() + self.question_suffix if after else question.strip() + "\n\n"
        return self.scorer.encode([text])[0][0]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        encoded = self._encode(requests)
        sep = self.scorer.separator_id
        # Pass 1: [document][question] for every document of every request.
        after = [self._question_ids(r.query, after=True) if r.query else [] for r in requests]
        titles = [[document_title(d.metadata) if self.use_titles and r.query else "" for d in r.documents]
                  for r in requests]
        title_ids = self._title_ids({t for ts in titles for t in ts if t})
        seqs, owners = [], []
        for n, enc in enumerate(encoded):
            for d, ids in enumerate(enc.ids):
                seqs.append([sep, *title_ids.get(titles[n][d], []), *ids, *after[n]])
                owners.append((n, d))
        first = self.scorer.token_nll(seqs, desc="Ranking documents")
        self_info: list[list[np.ndarray]] = [[np.empty(0)] * len(e.ids) for e in encoded]
        relevance: list[np.ndarray] = [np.zeros(len(e.ids)) for e in encoded]
        for (n, d), nll in zip(owners, first, strict=True):
            length = len(encoded[n].ids[d])
            head = 1 + len(title_ids.get(titles[n][d], []))
            self_info[n][d] = nll[head:head + length]
            q = nll[head + length:]
            relevance[n][d] = -float(np.nanmean(q)) if len(q) and np.isfinite(q).any() else np.nan
        for n, req in enumerate(requests):
            rel = relevance[n]  # a document with no score (empty) ranks with the worst
            relevance[n] = np.where(np.isnan(rel), np.nanmin(rel) if np.isfinite(rel).any() else 0.0, rel)
            if req.query and self.bridge > 0 and any(titles[n]):
                relevance[n] = bridge_relevance(minmax(relevance[n]), req.texts, titles[n], self.bridge)
        # Candidates per request, then pass 2: [question][document] for the candidates only.
        ranks: list[list[int]] = []
        candidates: list[list[int]] = []
        for n, req in enumerate(requests):
            order = sorted(range(len(req.documents)), key=lambda d: (-relevance[n][d], d))
            order = [d for d in order if req.documents[d].text.strip()]
            ranks.append(order)
            chosen, total = [], 0
            for d in order:
                if total >= self.candidate_factor * req.budget:
                    break
                chosen.append(d)
                total += req.document_tokens[d]
            candidates.append(chosen if req.query else order)
        before = [self._question_ids(r.query, after=False) if r.query else [] for r in requests]
        seqs, owners = [], []
        for n, enc in enumerate(encoded):
            if not requests[n].query:
                continue
            for d in candidates[n]:
                seqs.append([sep, *before[n], *enc.ids[d]])
                owners.append((n, d))
        second = self.scorer.token_nll(seqs, desc="Question-conditioned scoring") if seqs else []
        conditioned: dict[tuple[int, int], np.ndarray] = {}
        for (n, d), nll in zip(owners, second, strict=True):
            conditioned[(n, d)] = nll[1 + len(before[n]):]
        return [self._finish_request(n, req, encoded[n], self_info[n], relevance[n], ranks[n], candidates[n],
                                     conditioned) for n, req in enumerate(requests)]

    def _finish_request(self, n: int, req: CompressionRequest, enc: _Encoded, self_info: list[np.ndarray],
                        relevance: np.ndarray, order: list[int], chosen: list[int],
                        conditioned: dict[tuple[int, int], np.ndarray]) -> CompressedOutput:
        chosen_set = set(chosen)
        units = [u for u in enc.units if u.doc in chosen_set]
        all_nll = np.concatenate([self_info[d] for d in chosen if len(self_info[d])] or [np.zeros(1)])
        fallback = float(np.nanmean(all_nll)) if np.isfinite(all_nll).any() else 0.0
        plain = np.empty(len(units))
        cond = np.empty(len(units))
        by_doc: dict[int, list[int]] = {}
        for k, u in enumerate(units):
            by_doc.setdefault(u.doc, []).append(k)
        for d, ks in by_doc.items():
            members = [units[k] for k in ks]
            plain[ks] = _phrase_scores(members, self_info[d], fallback)
            cond[ks] = _phrase_scores(members, conditioned.get((n, d), self_info[d]), fallback)
        if req.query:
            importance = ((1 - self.contrast_weight) * rank_scale(cond)
                          + self.contrast_weight * rank_scale(plain - cond))
            strategy = "question-conditioned contrastive perplexity (LongLLMLingua), phrases"
        else:
            importance = rank_scale(plain)
            strategy = "self-information phrases (no question)"
        position = {d: r for r, d in enumerate(chosen)}
        span = max(1, len(chosen) - 1)
        priority = np.asarray([1.0 - position[u.doc] / span if req.query and len(chosen) > 1 else 1.0
                               for u in units])
        scores = importance + self.document_priority * priority
        doc_order = order if self.reorder == "relevance" else None
        doc_scores: list[float | None] = ([float(x) for x in minmax(relevance)] if req.query
                                          else [None] * len(req.documents))
        ranking = [req.documents[d].id or str(d) for d in order] if req.query else None
        return self._output(req, units, scores, doc_order, strategy, doc_scores, ranking,
                            extra={"candidates": len(chosen)})
