"""Cross-encoder sentence relevance: the question read together with each sentence, by a trained model.

:class:`CrossEncoderScorer` is a :class:`~contextzip.scorers.SentenceScorer` with two kinds of model:

* ``contextzip-relevance`` (the default; ``training/train_relevance.py``, ``training/RELEVANCE_DATA_CARD.md``):
  the packaged all-MiniLM-L6-v2 with its top layers fine-tuned, reading ``[CLS] question [SEP] title: sentence
  sentence ... [SEP]`` (a document's sentences packed into windows, so each sentence is read in its context, as
  Provence does). A keep head on every word piece, averaged over a sentence, gives the sentence's keep
  probability; a passage head on ``[CLS]`` the window's relevance (a document's: the best of its windows).
* any Hugging Face cross-encoder or reranker (``AutoModelForSequenceClassification``: ``cross-encoder/ms-marco-*``,
  ``BAAI/bge-reranker-*``), by hub id or local path: one ``(question, "title: sentence")`` pair per sentence, the
  sigmoid of its logit (of the last class's softmax with several labels); a document's relevance is its best
  sentence's.

Every window or pair of every request of a call goes through the shared :class:`~contextzip.engine.ScoringEngine`
in one pass. Without a question there is nothing to cross-encode: sentences score by position (lead first).

Why this module is long: the model (build, save, load), the windows it reads, its two inference paths (packed
windows with span offsets, and pairs for any hub cross-encoder) and the answer window that uses its spans share
one input format; splitting them would scatter that format over several modules.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contextzip.engine import ScoringEngine, pad_batch
from contextzip.lexicon import answer_type, has_answer_type, lexical_terms
from contextzip.model_registry import resolve_model_path
from contextzip.models import LazyModel, cached_model
from contextzip.relevance import bm25_scores, bridge_relevance, document_title, term_overlap
from contextzip.scorers import Scored, Sentences
from contextzip.weights import pack_state, unpack_state

logger = logging.getLogger(__name__)

__all__ = ["RELEVANCE_CONFIG", "CrossEncoderScorer", "CrossEncoderWeights", "Relevance", "SpanScored", "Window",
           "answer_windows", "clean_title", "build_relevance_model", "explain_relevance_cut",
           "load_relevance_model", "pack_windows", "save_relevance_model", "sentence_scorer"]

RELEVANCE_CONFIG = "contextzip_relevance.json"
DEFAULT_MODEL = "contextzip-relevance"
MAX_QUERY_TOKENS = 48


@dataclass(frozen=True)
class Window:
    """One model input: ``[CLS] query [SEP] title: sentences [SEP]`` as ids and token types, with each packed
    sentence's word-piece span ``[start, end)`` and its index among the caller's sentences."""

    input_ids: list[int]
    token_type_ids: list[int]
    spans: list[tuple[int, int]]
    sentences: list[int]


@dataclass(frozen=True)
class CrossEncoderWeights:
    """How a sentence's score mixes its keep probability (weight 1) with ``document`` x its document's relevance
    (after ``bridge``: a document named by one of the two most relevant inherits that share of their relevance),
    ``lexical`` x its BM25 + query-term coverage (mean, each in [0, 1]), ``answer_type`` when it holds the kind
    of answer the question asks for, ``lead`` for a document's first sentence and ``answer`` x the answer-span
    head's best word-piece probability in the sentence (models with that head). Chosen on the tune split
    (``training/tune_relevance.py``)."""

    document: float = 0.5
    bridge: float = 0.0
    lexical: float = 0.0
    answer_type: float = 0.0
    lead: float = 0.0
    answer: float = 0.0


@dataclass(frozen=True)
class Relevance:
    """One request's model outputs: sentence keep probabilities, document relevance (both in [0, 1]) and, from a
    model with an answer-span head, each sentence's word pieces as document character spans with their
    answer probabilities (``(starts, ends, probs)`` per sentence)."""

    sentences: np.ndarray
    documents: np.ndarray
    answer_spans: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] | None = None

    def best_answer(self) -> np.ndarray:
        """Each sentence's highest answer-span probability (zeros without an answer-span head)."""
        if self.answer_spans is None:
            return np.zeros(len(self.sentences))
        return np.asarray([float(p.max()) if len(p) else 0.0 for _, _, p in self.answer_spans])


@dataclass(frozen=True)
class SpanScored(Scored):
    """Scores that also carry the answer-span probabilities of each sentence's word pieces (see
    :class:`Relevance`), so a sentence too long to keep whole keeps the window around its likely answer."""

    answer_spans: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] | None = None

    def subset(self, keep: Sequence[int]) -> SpanScored:
        spans = None if self.answer_spans is None else tuple(self.answer_spans[k] for k in keep)
        return SpanScored(np.asarray(self.unit_scores)[list(keep)], self.doc_scores, self.strategy, self.min_score,
                          spans)


def answer_windows(sentences: Sentences, scored: Scored) -> Any:
    """A window function (see :func:`contextzip.budget.fit_budget`) that cuts a sentence to the run of word
    pieces around its most likely answer piece, grown towards the likelier neighbour (the left on ties) while it
    fits, snapped to whole words; ``None`` when ``scored`` has no answer spans."""
    spans = getattr(scored, "answer_spans", None)
    if spans is None:
        return None
    req = sentences.request
    texts, counter = req.texts, req.counter
    where = {(u.doc, u.start): k for k, u in enumerate(sentences.units)}
    by_doc: dict[int, list[tuple[int, int]]] = {}
    for k, u in enumerate(sentences.units):
        by_doc.setdefault(u.doc, []).append((u.start, k))

    def unit_of(doc: int, start: int) -> int | None:
        if (doc, start) in where:
            return where[(doc, start)]
        best = [k for s, k in by_doc.get(doc, []) if s <= start]
        return best[-1] if best else None

    def window(doc: int, start: int, end: int, max_tokens: int) -> tuple[int, int]:
        k = unit_of(doc, start)
        if k is None:
            return start, start
        starts, ends, probs = spans[k]
        inside = (starts >= start) & (ends <= end)
        if not inside.any():
            return start, start
        a, b, p = starts[inside], ends[inside], probs[inside]
        text = texts[doc]

        def snap(i: int, j: int) -> tuple[int, int]:
            x, y = int(a[i]), int(b[j])
            while x > start and not text[x - 1].isspace():
                x -= 1
            while y < end and not text[y].isspace():
                y += 1
            return x, y

        i = j = int(np.argmax(p))
        x, y = snap(i, j)
        if counter.count(text[x:y]) > max_tokens:
            return start, start
        while True:
            left = p[i - 1] if i > 0 else -1.0
            right = p[j + 1] if j + 1 < len(p) else -1.0
            if left < 0 and right < 0:
                break
            ni, nj = (i - 1, j) if left >= right else (i, j + 1)
            nx, ny = snap(ni, nj)
            if counter.count(text[nx:ny]) > max_tokens:
                break
            i, j, x, y = ni, nj, nx, ny
        return x, y

    return window


def clean_title(title: str) -> str:
    return title.replace("_", " ").strip()


def pack_windows(query_ids: Sequence[int], title_ids: Sequence[int], sentence_ids: Sequence[Sequence[int]],
                 max_length: int, cls_id: int, sep_id: int) -> list[Window]:
    """A document's sentences (already tokenised, no special tokens) packed in order into windows of at most
    ``max_length`` word pieces, each ``[CLS] query [SEP] title sentences... [SEP]``; a sentence longer than a
    window keeps its first word pieces."""
    head = [cls_id, *query_ids[:MAX_QUERY_TOKENS], sep_id]
    room = max(8, max_length - len(head) - len(title_ids) - 1)
    windows: list[Window] = []
    body: list[int] = []
    spans: list[tuple[int, int]] = []
    members: list[int] = []

    def flush() -> None:
        if members:
            ids = [*head, *title_ids, *body, sep_id]
            offset = len(head) + len(title_ids)
            windows.append(Window(ids, [0] * len(head) + [1] * (len(ids) - len(head)),
                                  [(s + offset, e + offset) for s, e in spans], list(members)))
        body.clear()
        spans.clear()
        members.clear()

    for k, ids in enumerate(sentence_ids):
        piece = list(ids[:room]) or [sep_id]
        if body and len(body) + len(piece) > room:
            flush()
        spans.append((len(body), len(body) + len(piece)))
        body.extend(piece)
        members.append(k)
    flush()
    return windows


def build_relevance_model(base_path: str, config: dict[str, Any]) -> Any:
    """The relevance model over the encoder at ``base_path``: its last ``config["trainable_layers"]`` layers and
    the two heads are what training changes (and what is saved)."""
    import torch
    from transformers import AutoModel

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(base_path, attn_implementation="eager")
            width = self.encoder.config.hidden_size
            self.keep_head = torch.nn.Linear(width, 1)
            self.passage_head = torch.nn.Linear(width, 1)
            self.span_head = torch.nn.Linear(width, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, Any, Any]:
            """(keep logit per word piece, passage logit, answer-span logit per word piece)."""
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return (self.keep_head(hidden).squeeze(-1), self.passage_head(hidden[:, 0]).squeeze(-1),
                    self.span_head(hidden).squeeze(-1))

    model = Model()
    layers = len(model.encoder.encoder.layer)
    first = layers - int(config["trainable_layers"])
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(("keep_head", "passage_head", "span_head")) or any(
            name.startswith(f"encoder.encoder.layer.{i}.") for i in range(first, layers))
    return model


def _trained_state(model: Any) -> dict[str, Any]:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def save_relevance_model(model: Any, config: dict[str, Any], folder: str) -> None:
    """Write the trained layers and heads (int8 matrices, :func:`contextzip.weights.pack_state`) and the config: a few MB, not the
    encoder."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    save_file(pack_state(_trained_state(model)), os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, RELEVANCE_CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)


def relevance_config(folder: str) -> dict[str, Any]:
    """The ``contextzip_relevance.json`` of a saved relevance model."""
    with open(os.path.join(folder, RELEVANCE_CONFIG), encoding="utf-8") as f:
        return json.load(f)


def load_relevance_model(folder: str) -> tuple[Any, Any, dict[str, Any]]:
    """(tokenizer, model, config) of a saved relevance model: the base encoder named in its config, with the
    saved layers and heads on top."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    config = relevance_config(folder)
    base = resolve_model_path(config["base_model"])
    model = build_relevance_model(base, config)
    state = unpack_state(load_file(os.path.join(folder, "model.safetensors")))
    unknown = set(state) - set(model.state_dict())
    if unknown:
        raise ValueError(f"{folder}: weights for unknown parameters {sorted(unknown)[:3]}")
    if not config.get("span"):
        state = {k: v for k, v in state.items() if not k.startswith("span_head")}
    model.load_state_dict(state, strict=False)
    return AutoTokenizer.from_pretrained(base), model.eval(), config


def is_relevance_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, RELEVANCE_CONFIG))


class _Loaded(LazyModel):
    """The scorer's model: a contextzip relevance model (on torch or ONNX Runtime) or a Hugging Face sequence
    classifier (torch)."""

    def __init__(self, model_name_or_path: str, engine: ScoringEngine, backend: str = "auto") -> None:
        super().__init__(model_name_or_path, engine)
        self.backend = backend

    def uses_onnx(self, path: str) -> bool:
        """Whether this model runs on ONNX Runtime: ``backend="onnx"``, or "auto" for a contextzip relevance
        model on a CPU engine that runs float32 (where torch has no faster kernels) with ONNX Runtime installed."""
        if self.backend == "torch" or not is_relevance_model(path):
            return False
        if self.backend == "onnx":
            return True
        import torch

        from contextzip.onnx_embedder import onnx_available

        return self.engine.device == "cpu" and self.engine.dtype == torch.float32 and onnx_available()

    def load(self) -> tuple[Any, Any]:
        path = resolve_model_path(self.model_name_or_path)
        engine = self.engine
        onnx = self.uses_onnx(path)

        def load() -> tuple[Any, Any]:
            if onnx:
                from transformers import AutoTokenizer

                from contextzip.onnx_relevance import OnnxRelevanceModel

                config = relevance_config(path)
                return (AutoTokenizer.from_pretrained(resolve_model_path(config["base_model"])),
                        OnnxRelevanceModel(path, config))
            if is_relevance_model(path):
                tokenizer, model, config = load_relevance_model(path)
                model.contextzip_config = config
            else:
                import transformers

                tokenizer = transformers.AutoTokenizer.from_pretrained(path)
                model = transformers.AutoModelForSequenceClassification.from_pretrained(path)
            return tokenizer, engine.prepare(model)

        key = (path, "cross-encoder", "onnx" if onnx else "torch", engine.device, str(engine.dtype))
        return cached_model(key, load)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


class CrossEncoderScorer:
    """Sentence relevance from a cross-encoder (a :class:`~contextzip.scorers.SentenceScorer`).

    A sentence's score is its keep probability (in [0, 1]) mixed with its document's relevance and lexical
    priors (:class:`CrossEncoderWeights`); ``min_relevance`` (a keep probability) is the cut-off below which no
    sentence but the best is kept, even under budget.

    Args:
        model_name_or_path: "contextzip-relevance" (default), a hub id or a local path of a Hugging Face
            cross-encoder / reranker.
        engine: the scoring engine (device, dtype, batching).
        weights: how the signals mix (:class:`CrossEncoderWeights`).
        max_length: word pieces per model input.
        use_titles: read ``metadata["title"]`` before a document's sentences.
        min_relevance: keep no sentence whose keep probability is below it (``None``: fill the budget).
        backend: how a contextzip relevance model runs: "auto" (ONNX Runtime in float32 on a CPU engine that runs
            float32, when installed: the same logits within 1e-4, :mod:`contextzip.onnx_relevance`; torch
            otherwise), "torch" or "onnx". Hugging Face cross-encoders always run on torch.
    """

    def __init__(self, model_name_or_path: str = DEFAULT_MODEL, *, engine: ScoringEngine | None = None,
                 weights: CrossEncoderWeights | None = None, max_length: int | None = None, use_titles: bool = True,
                 min_relevance: float | None = None, backend: str = "auto") -> None:
        from contextzip.onnx_embedder import check_backend

        if min_relevance is not None and not 0.0 <= float(min_relevance) <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1] or None, but got {min_relevance!r}")
        self.model = _Loaded(model_name_or_path, engine or ScoringEngine(), check_backend(backend))
        self.weights = weights or CrossEncoderWeights()
        self._max_length = max_length
        self.use_titles = use_titles
        self.min_relevance = None if min_relevance is None else float(min_relevance)

    @property
    def engine(self) -> ScoringEngine:
        return self.model.engine

    def warm_up(self) -> None:
        self.model.warm_up()

    @property
    def config(self) -> dict[str, Any] | None:
        return getattr(self.model.model, "contextzip_config", None)

    @property
    def trained_on(self) -> tuple[str, ...]:
        """Evaluation data sets the model was trained on (``contextzip eval`` marks results on them in-sample)."""
        config = self.config
        return tuple(config.get("eval_sets_trained_on", ())) if config else ()

    @property
    def max_length(self) -> int:
        if self._max_length is not None:
            return self._max_length
        config = self.config
        return int(config["max_length"]) if config else 256

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        batches = list(batches)
        with_query = [b for b in batches if b.units and b.request.query]
        it = iter(self.probabilities(with_query))
        out = []
        for b in batches:
            if not b.units:
                out.append(Scored(np.zeros(0), np.zeros(len(b.request.documents)), "empty"))
            elif not b.request.query:
                n = len(b.units)
                out.append(Scored(1.0 - np.arange(n) / max(1, n) + b.first_in_doc(), None,
                                  "query-free: no question to cross-encode; lead sentences first"))
            else:
                out.append(self.combine(b, next(it)))
        return out

    def combine(self, b: Sentences, rel: Relevance) -> Scored:
        """One request's scores from its model outputs: with ``min_relevance``, sentences whose keep probability
        is under it (all but the best) score -1 and the cut-off is -0.5."""
        p, d = rel.sentences, rel.documents
        w = self.weights
        doc = d
        if w.bridge:
            titles = [document_title(x.metadata) for x in b.request.documents]
            doc = bridge_relevance(d, b.request.texts, titles, w.bridge)
        score = p + w.document * doc[b.doc_of()]
        query = b.request.query or ""
        if w.lexical:
            views = self._views(b)
            score = score + w.lexical * (bm25_scores(query, views) + term_overlap(query, views)) / 2
        if w.answer_type:
            kind, terms = answer_type(query), set(lexical_terms(query))
            score = score + w.answer_type * np.asarray([has_answer_type(t, kind, terms) for t in b.texts], float)
        if w.lead:
            score = score + w.lead * b.first_in_doc()
        if w.answer:
            score = score + w.answer * rel.best_answer()
        cut = None
        if self.min_relevance is not None:
            below = p < self.min_relevance
            below[int(np.argmax(p))] = False  # the best sentence always may stay
            score = np.where(below, -1.0, score)
            cut = -0.5
        return SpanScored(score, d, f"cross-encoder ({self.model.model_name_or_path})", cut, rel.answer_spans)

    def probabilities(self, batches: Sequence[Sentences]) -> list[Relevance]:
        """Per request (each with a question and sentences) its :class:`Relevance`, every model input of every
        request in one engine pass."""
        batches = list(batches)
        if not batches:
            return []
        self.warm_up()
        return self._windowed(batches) if self.config is not None else self._pairs(batches)

    def _views(self, b: Sentences) -> list[str]:
        titles = [clean_title(document_title(d.metadata)) if self.use_titles else "" for d in b.request.documents]
        return [f"{titles[u.doc]}: {t}" if titles[u.doc] else t for u, t in zip(b.units, b.texts, strict=True)]

    def _pairs(self, batches: list[Sentences]) -> list[Relevance]:
        tokenizer, model = self.model.tokenizer, self.model.model
        queries: list[str] = []
        views: list[str] = []
        for b in batches:
            v = self._views(b)
            views.extend(v)
            queries.extend([b.request.query or ""] * len(v))
        if not views:
            return []
        enc = tokenizer(queries, views, truncation="only_second", max_length=self.max_length)
        ids = enc["input_ids"]
        # XLM-RoBERTa rerankers (bge-reranker) have one token type: pass types only to models that use them
        types = enc.get("token_type_ids") if getattr(model.config, "type_vocab_size", 2) > 1 else None
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        def collate(rows: list[int]) -> dict[str, Any]:
            out = pad_batch([ids[i] for i in rows], pad_id)
            if types is not None:
                out["token_type_ids"] = pad_batch([types[i] for i in rows], 0)["input_ids"]
            return out

        def forward(t: dict[str, Any]) -> Any:
            import torch

            logits = model(**t).logits.float()
            if logits.shape[-1] == 1:
                return torch.sigmoid(logits[:, 0])
            return torch.softmax(logits, dim=-1)[:, -1]

        rows = self.engine.run(list(range(len(ids))), lengths=[len(x) for x in ids], collate=collate,
                               forward=forward, desc="Cross-encoding")
        flat = np.asarray([float(r) for r in rows])
        out, start = [], 0
        for b in batches:
            p = flat[start: start + len(b.units)]
            start += len(b.units)
            d = np.zeros(len(b.request.documents))
            np.maximum.at(d, b.doc_of(), p)
            out.append(Relevance(p, d))
        return out

    def _windowed(self, batches: list[Sentences]) -> list[Relevance]:
        tokenizer, model = self.model.tokenizer, self.model.model
        span = bool((self.config or {}).get("span"))
        texts = [t for b in batches for t in b.texts]
        titles = sorted({clean_title(document_title(d.metadata)) for b in batches for d in b.request.documents})
        queries = sorted({b.request.query or "" for b in batches})
        encoded = tokenizer([*texts, *[f"{t}:" for t in titles], *queries], add_special_tokens=False,
                            return_offsets_mapping=span)
        enc = encoded["input_ids"]
        sent_ids = enc[: len(texts)]
        title_ids = dict(zip(titles, enc[len(texts): len(texts) + len(titles)], strict=True))
        query_ids = dict(zip(queries, enc[len(texts) + len(titles):], strict=True))
        windows: list[tuple[int, int, Window]] = []  # (request, document, window)
        start = 0
        for r, b in enumerate(batches):
            doc_of = b.doc_of()
            for d, doc in enumerate(b.request.documents):
                members = np.flatnonzero(doc_of == d)
                if not len(members):
                    continue
                title = clean_title(document_title(doc.metadata)) if self.use_titles else ""
                for w in pack_windows(query_ids[b.request.query or ""], title_ids.get(title, []) if title else [],
                                      [sent_ids[start + k] for k in members], self.max_length,
                                      tokenizer.cls_token_id, tokenizer.sep_token_id):
                    windows.append((r, d, Window(w.input_ids, w.token_type_ids, w.spans,
                                                 [int(members[k]) for k in w.sentences])))
            start += len(b.units)
        pad_id = tokenizer.pad_token_id or 0

        def collate(rows: list[tuple[int, int, Window]]) -> dict[str, Any]:
            out = pad_batch([w.input_ids for _, _, w in rows], pad_id)
            out["token_type_ids"] = pad_batch([w.token_type_ids for _, _, w in rows], 0)["input_ids"]
            return out

        def forward(t: dict[str, Any]) -> Any:
            keep, passage, answer = model(**t)
            return [(k.float(), float(p), a.float()) for k, p, a in zip(keep, passage, answer, strict=True)]

        rows = self.engine.run(windows, lengths=[len(w.input_ids) for _, _, w in windows], collate=collate,
                               forward=forward, desc="Cross-encoding")
        probs = [np.zeros(len(b.units)) for b in batches]
        docs = [np.zeros(len(b.request.documents)) for b in batches]
        spans: list[list[Any]] = [[None] * len(b.units) for b in batches]
        first = np.cumsum([0] + [len(b.units) for b in batches])
        for (r, d, w), (keep, passage, answer) in zip(windows, rows, strict=True):
            logits, answer_p = keep.numpy(), _sigmoid(answer.numpy())
            for (s, e), k in zip(w.spans, w.sentences, strict=True):
                probs[r][k] = float(_sigmoid(logits[s:e].mean()))
                if span:
                    unit = batches[r].units[k]
                    off = np.asarray(encoded["offset_mapping"][first[r] + k][: e - s], dtype=np.int64).reshape(-1, 2)
                    spans[r][k] = (unit.start + off[:, 0], unit.start + off[:, 1], answer_p[s: s + len(off)])
            docs[r][d] = max(docs[r][d], float(_sigmoid(passage)))
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        return [Relevance(p, dd, tuple(x if x is not None else empty for x in sp) if span else None)
                for p, dd, sp in zip(probs, docs, spans, strict=True)]


def sentence_scorer(scorer: Any, engine: ScoringEngine, min_relevance: float | None = None) -> Any:
    """A compressor's ``scorer=`` argument as a :class:`~contextzip.scorers.SentenceScorer`: a model name or
    path becomes a :class:`CrossEncoderScorer` (with ``min_relevance``); a scorer object is used as it is."""
    if isinstance(scorer, str):
        return CrossEncoderScorer(scorer, engine=engine, min_relevance=min_relevance)
    if min_relevance is not None and getattr(scorer, "min_relevance", min_relevance) != min_relevance:
        raise ValueError("min_relevance is set on the compressor and differently on its scorer")
    return scorer


def explain_relevance_cut(out: Any, budget: int, min_relevance: float | None) -> Any:
    """The output of a compression with a relevance cut-off: the cut-off as ``threshold``, and when less than
    95% of the budget was used, the reason (``under_budget_reason``)."""
    from dataclasses import replace

    if min_relevance is None:
        return out
    reason = out.under_budget_reason
    if out.tokens is not None and out.tokens < 0.95 * budget:
        reason = (f"relevance cut-off: sentences whose keep probability is under min_relevance={min_relevance:g} "
                  f"were dropped ({out.tokens} of {budget} tokens used)")
    return replace(out, threshold=min_relevance, under_budget_reason=reason)
