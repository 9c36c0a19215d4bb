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
from contextzip.model_registry import resolve_model_path
from contextzip.models import LazyModel, cached_model
from contextzip.relevance import document_title
from contextzip.scorers import Scored, Sentences

logger = logging.getLogger(__name__)

__all__ = ["RELEVANCE_CONFIG", "CrossEncoderScorer", "Window", "clean_title", "build_relevance_model", "explain_relevance_cut",
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

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> tuple[Any, Any]:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return self.keep_head(hidden).squeeze(-1), self.passage_head(hidden[:, 0]).squeeze(-1)

    model = Model()
    layers = len(model.encoder.encoder.layer)
    first = layers - int(config["trainable_layers"])
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(("keep_head", "passage_head")) or any(
            name.startswith(f"encoder.encoder.layer.{i}.") for i in range(first, layers))
    return model


def _trained_state(model: Any) -> dict[str, Any]:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def save_relevance_model(model: Any, config: dict[str, Any], folder: str) -> None:
    """Write the trained layers and heads (fp16 safetensors) and the config: a few MB, not the encoder."""
    import torch
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in _trained_state(model).items()}
    save_file(state, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, RELEVANCE_CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)


def load_relevance_model(folder: str) -> tuple[Any, Any, dict[str, Any]]:
    """(tokenizer, model, config) of a saved relevance model: the base encoder named in its config, with the
    saved layers and heads on top."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    with open(os.path.join(folder, RELEVANCE_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    base = resolve_model_path(config["base_model"])
    model = build_relevance_model(base, config)
    state = load_file(os.path.join(folder, "model.safetensors"))
    missing = set(state) - set(model.state_dict())
    if missing:
        raise ValueError(f"{folder}: weights for unknown parameters {sorted(missing)[:3]}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return AutoTokenizer.from_pretrained(base), model.eval(), config


def is_relevance_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, RELEVANCE_CONFIG))


class _Loaded(LazyModel):
    """The scorer's model: a contextzip relevance model or a Hugging Face sequence classifier."""

    def load(self) -> tuple[Any, Any]:
        path = resolve_model_path(self.model_name_or_path)
        engine = self.engine

        def load() -> tuple[Any, Any]:
            if is_relevance_model(path):
                tokenizer, model, config = load_relevance_model(path)
                model.contextzip_config = config
            else:
                import transformers

                tokenizer = transformers.AutoTokenizer.from_pretrained(path)
                model = transformers.AutoModelForSequenceClassification.from_pretrained(path)
            return tokenizer, engine.prepare(model)

        return cached_model((path, "cross-encoder", engine.device, str(engine.dtype)), load)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


class CrossEncoderScorer:
    """Sentence relevance from a cross-encoder (a :class:`~contextzip.scorers.SentenceScorer`).

    A sentence's score is its keep probability (in [0, 1]) plus ``document_weight`` x its document's relevance;
    ``min_relevance`` (a keep probability) is the cut-off below which no sentence is kept, even under budget.

    Args:
        model_name_or_path: "contextzip-relevance" (default), a hub id or a local path of a Hugging Face
            cross-encoder / reranker.
        engine: the scoring engine (device, dtype, batching).
        document_weight: weight of the document's relevance in a sentence's score.
        max_length: word pieces per model input.
        use_titles: read ``metadata["title"]`` before a document's sentences.
        min_relevance: keep no sentence whose keep probability is below it (``None``: fill the budget).
    """

    def __init__(self, model_name_or_path: str = DEFAULT_MODEL, *, engine: ScoringEngine | None = None,
                 document_weight: float = 0.5, max_length: int | None = None, use_titles: bool = True,
                 min_relevance: float | None = None) -> None:
        if min_relevance is not None and not 0.0 <= float(min_relevance) <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1] or None, but got {min_relevance!r}")
        self.model = _Loaded(model_name_or_path, engine or ScoringEngine())
        self.document_weight = float(document_weight)
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
                p, d = next(it)
                out.append(self.combine(b, p, d))
        return out

    def combine(self, b: Sentences, p: np.ndarray, d: np.ndarray) -> Scored:
        """One request's scores from its sentence keep probabilities ``p`` and document relevance ``d``: with
        ``min_relevance``, sentences under it (all but the best) score -1 and the cut-off is -0.5."""
        score = p + self.document_weight * d[b.doc_of()]
        cut = None
        if self.min_relevance is not None:
            below = p < self.min_relevance
            below[int(np.argmax(p))] = False  # the best sentence always may stay
            score = np.where(below, -1.0, score)
            cut = -0.5
        return Scored(score, d, f"cross-encoder ({self.model.model_name_or_path})", cut)

    def probabilities(self, batches: Sequence[Sentences]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per request (each with a question and sentences): sentence keep probabilities and document
        relevance, in [0, 1], every model input of every request in one engine pass."""
        batches = list(batches)
        if not batches:
            return []
        self.warm_up()
        probs, docs = self._windowed(batches) if self.config is not None else self._pairs(batches)
        return list(zip(probs, docs, strict=True))

    def _views(self, b: Sentences) -> list[str]:
        titles = [clean_title(document_title(d.metadata)) if self.use_titles else "" for d in b.request.documents]
        return [f"{titles[u.doc]}: {t}" if titles[u.doc] else t for u, t in zip(b.units, b.texts, strict=True)]

    def _pairs(self, batches: list[Sentences]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        tokenizer, model = self.model.tokenizer, self.model.model
        queries: list[str] = []
        views: list[str] = []
        for b in batches:
            v = self._views(b)
            views.extend(v)
            queries.extend([b.request.query or ""] * len(v))
        if not views:
            return [], []
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
        probs, docs, start = [], [], 0
        for b in batches:
            p = flat[start: start + len(b.units)]
            start += len(b.units)
            d = np.zeros(len(b.request.documents))
            np.maximum.at(d, b.doc_of(), p)
            probs.append(p)
            docs.append(d)
        return probs, docs

    def _windowed(self, batches: list[Sentences]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        tokenizer, model = self.model.tokenizer, self.model.model
        texts = [t for b in batches for t in b.texts]
        titles = sorted({clean_title(document_title(d.metadata)) for b in batches for d in b.request.documents})
        queries = sorted({b.request.query or "" for b in batches})
        enc = tokenizer([*texts, *[f"{t}:" for t in titles], *queries], add_special_tokens=False)["input_ids"]
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
            keep, passage = model(**t)
            return [(k.float(), float(p)) for k, p in zip(keep, passage, strict=True)]

        rows = self.engine.run(windows, lengths=[len(w.input_ids) for _, _, w in windows], collate=collate,
                               forward=forward, desc="Cross-encoding")
        probs = [np.zeros(len(b.units)) for b in batches]
        docs = [np.zeros(len(b.request.documents)) for b in batches]
        for (r, d, w), (keep, passage) in zip(windows, rows, strict=True):
            logits = keep.numpy()
            for (s, e), k in zip(w.spans, w.sentences, strict=True):
                probs[r][k] = float(_sigmoid(logits[s:e].mean()))
            docs[r][d] = max(docs[r][d], float(_sigmoid(passage)))
        return probs, docs


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
