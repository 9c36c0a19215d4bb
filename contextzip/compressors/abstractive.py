"""Abstractive compression (RECOMP-style): a short query-focused summary written by a language model.

RECOMP (Xu et al. 2024) replaces the retrieved documents with a summary that a small model writes for the
question, and with *nothing* when the documents do not help ("selective augmentation"), which saves the whole
context and keeps irrelevant text away from the reader. This compressor does that without training:

1. **Relevance gate.** Every sentence is embedded with MiniLM (the shared engine) and compared with the
   question; when no sentence reaches ``relevance_threshold`` the output is empty and ``under_budget_reason`` says so
   (``extra["selective_augmentation"]`` is True).
2. **Condensed input.** The most relevant sentences, up to ``max_source_tokens``, in original order, are what
   the model reads (short inputs make small models copy facts instead of inventing them, and run faster).
3. **Generation.** An instruction-tuned causal LM (SmolLM2-135M-Instruct by default) or a T5/BART-family
   seq2seq model writes the summary; requests are generated in batches by the shared engine.
4. **Faithfulness.** Each generated sentence gets the share of its content words and numbers that occur in the
   sources; sentences below ``min_faithfulness`` are dropped (when set). The output's share is reported in
   ``result.faithfulness``.
5. **Hard budget.** The result is cut to the token budget with the real counter (never over it).

Each generated sentence is attributed to the source document it shares the most words with, so every input
document is accounted for (shortened to its attributed sentences, or dropped).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

from contextzip.causal_lm import TextGenerator
from contextzip.compressors.base import (
    BaseCompressor,
    CompressedOutput,
    CompressionRequest,
    passthrough_output,
)
from contextzip.engine import ScoringEngine
from contextzip.lexicon import STOPWORDS
from contextzip.models import SentenceEmbedder
from contextzip.segment import split_sentences
from contextzip.tokens import prefix_within
from contextzip.validation import check_number, check_positive_int

logger = logging.getLogger(__name__)

__all__ = ["AbstractiveCompressor", "content_terms", "faithfulness"]

_TERM = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
# The shared stop words, plus words a summary uses to talk about its sources rather than their content.
_STOPWORDS = STOPWORDS | frozenset(
    "it's onto within without shall may might must whose s t document documents question answer answers states "
    "stated says according".split()
)
_LEADS = re.compile(r"^(?:the )?(?:document|documents|text|passage|context)s? (?:states?|says?|mentions?)"
                    r"(?: that)?[:,]?\s*", re.IGNORECASE)


def content_terms(text: str) -> list[str]:
    """Lower-cased content words and numbers of ``text`` (stop words left out; digits kept whole)."""
    return [t for t in (m.group().lower() for m in _TERM.finditer(text)) if t not in _STOPWORDS]


def faithfulness(text: str, sources: Iterable[str]) -> float | None:
    """Share of ``text``'s content words and numbers that occur in ``sources``; ``None`` when it has none."""
    terms = content_terms(text)
    if not terms:
        return None
    vocabulary = {t for s in sources for t in content_terms(s)}
    return sum(t in vocabulary for t in terms) / len(terms)


class AbstractiveCompressor(BaseCompressor):
    """A query-focused summary by a small LM, empty when the documents do not bear on the question.

    Args:
        model_name_or_path: the writer: "smollm2-135m" (default, offline), or a hub id / local path of an
            instruction-tuned causal LM or a T5/BART-family seq2seq model.
        embedder_name_or_path: the sentence embedder of the relevance gate ("minilm").
        device, dtype: see :class:`~contextzip.engine.ScoringEngine`.
        batch_size: requests generated together.
        relevance_threshold: the gate: the best sentence's cosine similarity to the question must reach it
            (in [-1, 1]; ``None`` turns the gate off).
        min_faithfulness: drop generated sentences whose faithfulness is below this (in [0, 1]; ``None`` keeps
            them all).
        max_source_tokens: the most tokens of relevant sentences the writer reads.
        max_new_tokens: the most tokens generated (also capped by the budget).
        generator, embedder: ready :class:`~contextzip.causal_lm.TextGenerator` /
            :class:`~contextzip.models.SentenceEmbedder` to share loaded models.
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "abstractive"
    uses_query = True
    compresses_within_budget = True  # the relevance gate also applies to input within the budget
    instruction = ("Documents:\n{sources}\n\nQuestion: {question}\n\n"
                   "Copy the sentences from the documents that answer the question.")
    instruction_no_query = "Documents:\n{sources}\n\nSummarize the documents in one or two sentences."

    def __init__(
        self,
        model_name_or_path: str = "smollm2-135m",
        *,
        embedder_name_or_path: str = "minilm",
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int = 8,
        relevance_threshold: float | None = 0.3,
        min_faithfulness: float | None = 0.5,
        max_source_tokens: int = 256,
        max_new_tokens: int = 96,
        generator: TextGenerator | None = None,
        embedder: SentenceEmbedder | None = None,
        **kwargs,  # type: ignore[no-untyped-def]
    ) -> None:
        super().__init__(**kwargs)
        self.relevance_threshold = (None if relevance_threshold is None
                                    else check_number("relevance_threshold", relevance_threshold, -1.0, 1.0))
        self.min_faithfulness = (None if min_faithfulness is None
                                 else check_number("min_faithfulness", min_faithfulness, 0.0, 1.0))
        self.max_source_tokens = check_positive_int("max_source_tokens", max_source_tokens)
        self.max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        self.generator = generator or TextGenerator(
            model_name_or_path, ScoringEngine(device=device, dtype=dtype, batch_size=batch_size)
        )
        self.embedder = embedder or SentenceEmbedder(embedder_name_or_path, ScoringEngine(device=device, dtype=dtype))

    def warm_up(self) -> None:
        self.generator.warm_up()
        self.embedder.warm_up()

    def _empty(self, req: CompressionRequest, best: float) -> CompressedOutput:
        return CompressedOutput(
            text="", document_texts=[""] * len(req.documents), strategy="selective augmentation",
            under_budget_reason=(f"the documents do not bear on the question (best sentence relevance "
                                 f"{best:.2f} < {self.relevance_threshold})"),
            extra={"selective_augmentation": True, "relevance": best},
        )

    # --- steps --------------------------------------------------------------------------------------------

    def _relevance(self, requests: Sequence[CompressionRequest]) -> list[tuple[list[tuple[int, str]], np.ndarray]]:
        """Sentences (document, text) of each request and their cosine similarity to its question."""
        sentences = [[(d, s.text) for d, doc in enumerate(r.documents) for s in split_sentences(doc.text)]
                     for r in requests]
        texts: dict[str, int] = {}
        for r, sents in zip(requests, sentences, strict=True):
            for t in ([r.query] if r.query else []) + [s for _, s in sents]:
                texts.setdefault(t, len(texts))
        vectors = self.embedder.encode(list(texts)) if texts else np.zeros((0, 1), dtype=np.float32)
        out = []
        for r, sents in zip(requests, sentences, strict=True):
            if r.query and sents:
                q = vectors[texts[r.query]]
                sims = vectors[[texts[s] for _, s in sents]] @ q
            else:
                sims = np.zeros(len(sents), dtype=np.float32)
            out.append((sents, sims))
        return out

    def _sources(self, request: CompressionRequest, sents: list[tuple[int, str]], sims: np.ndarray) -> str:
        """The most relevant sentences within ``max_source_tokens``, in original order."""
        counter = request.counter
        order = np.argsort(-sims, kind="stable") if request.query else np.arange(len(sents))
        chosen, used = [], 0
        for k in order.tolist():
            n = counter.count(sents[k][1]) + 1
            if used + n > self.max_source_tokens and chosen:
                continue
            chosen.append(k)
            used += n
        return " ".join(sents[k][1] for k in sorted(chosen))

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        scored = self._relevance(requests)
        outputs: list[CompressedOutput | None] = [None] * len(requests)
        prompts, todo = [], []
        for i, (req, (sents, sims)) in enumerate(zip(requests, scored, strict=True)):
            best = float(sims.max()) if len(sims) else float("-inf")
            if req.query and self.relevance_threshold is not None and best < self.relevance_threshold:
                outputs[i] = self._empty(req, best)
                continue
            if req.original_tokens <= req.budget:  # within budget and relevant: passed on unchanged
                outputs[i] = passthrough_output(req)
                continue
            template = self.instruction if req.query else self.instruction_no_query
            prompts.append(self.generator.prompt(template.format(sources=self._sources(req, sents, sims),
                                                                 question=req.query or "")))
            todo.append(i)
        if todo:
            budget = max(requests[i].budget for i in todo)
            new_tokens = max(1, min(self.max_new_tokens, int(math.ceil(budget * 1.5)) + 8))
            summaries = self.generator.generate(prompts, new_tokens, desc="Summarizing")
            for i, summary in zip(todo, summaries, strict=True):
                best = float(scored[i][1].max()) if len(scored[i][1]) else None
                outputs[i] = self._finalize(requests[i], summary, best)
        return [o for o in outputs if o is not None]

    def _finalize(self, req: CompressionRequest, summary: str, relevance: float | None) -> CompressedOutput:
        sources = req.texts
        if "\ufffd" in summary and not any("\ufffd" in s for s in sources):
            summary = summary.replace("\ufffd", "")  # the model saw U+FFFD for lone surrogates (segment.encodable)
        vocabulary = {t for s in sources for t in content_terms(s)}
        kept, dropped = [], 0
        for span in split_sentences(_LEADS.sub("", summary.strip()).strip().strip('"').strip()):
            terms = content_terms(span.text)
            score = sum(t in vocabulary for t in terms) / len(terms) if terms else None
            if self.min_faithfulness is not None and (score is None or score < self.min_faithfulness):
                dropped += 1
                continue
            kept.append(span.text)
        text = prefix_within(" ".join(kept), req.budget, req.counter)
        # Attribute each kept sentence to the source document it shares the most content words with.
        per_doc = [""] * len(req.documents)
        doc_terms = [set(content_terms(s)) for s in sources]
        for sentence in (s.text for s in split_sentences(text)):
            terms = set(content_terms(sentence))
            if not terms or not doc_terms:
                continue
            d = max(range(len(doc_terms)), key=lambda k: (len(terms & doc_terms[k]), -k))
            per_doc[d] = f"{per_doc[d]} {sentence}".strip()
        reason = None
        if not text:
            reason = "no generated sentence passed the faithfulness filter" if dropped else "the model wrote nothing"
        return CompressedOutput(
            text=text, document_texts=per_doc, document_full=[False] * len(req.documents),
            strategy="abstractive summary" + (" (query-focused)" if req.query else ""), under_budget_reason=reason,
            faithfulness=faithfulness(text, sources),
            extra={"selective_augmentation": False, "relevance": relevance, "dropped_sentences": dropped},
        )
