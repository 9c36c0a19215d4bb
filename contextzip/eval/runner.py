"""``contextzip eval``: run a compressor over a data set and measure what survives, at what cost."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contextzip.compressors.base import BaseCompressor
from contextzip.eval.datasets import EvalExample, load_dataset
from contextzip.eval.metrics import answer_word_recall, contains_answer, rouge_l, token_f1
from contextzip.eval.readers import LikelihoodReader, Reader, ReaderPrompt, get_reader
from contextzip.registry import load_compressor
from contextzip.stats import percentile
from contextzip.types import CompressionResult, DocumentStatus

logger = logging.getLogger(__name__)


@dataclass
class ExampleRecord:
    example: EvalExample
    result: CompressionResult
    latency_ms: float
    reply: str | None = None  # the reader's answer from the compressed context, when a reader ran
    answer_nll: float | None = None  # the reader's NLL of the first gold answer given that context, when it scores


def compress_examples(
    compressor: BaseCompressor,
    examples: Sequence[EvalExample],
    *,
    target_tokens: int | None = None,
    rate: float | None = None,
    warmup: int = 2,
    show_progress_bar: bool = False,
) -> list[ExampleRecord]:
    """Compress each example on its own (so latency is per question), after ``warmup`` untimed calls."""
    for ex in examples[:warmup]:
        compressor.compress(ex.documents, ex.question, target_tokens=target_tokens, rate=rate)
    iterator: Any = examples
    if show_progress_bar:
        from tqdm.auto import tqdm

        iterator = tqdm(examples, desc=f"eval {compressor.name}", leave=False)
    records = []
    for ex in iterator:
        start = time.perf_counter()
        result = compressor.compress(ex.documents, ex.question, target_tokens=target_tokens, rate=rate)
        records.append(ExampleRecord(ex, result, (time.perf_counter() - start) * 1000))
    return records


def summarize(records: Sequence[ExampleRecord], compressor: BaseCompressor) -> dict[str, Any]:
    """Answer and supporting-document retention, size, budget violations, latency and throughput."""
    counter = compressor.token_counter
    answerable = [r for r in records if not r.example.skip_answer and r.example.answers]
    retained = [contains_answer(r.result.text, r.example.answers) for r in answerable]
    with_answers = [r for r in records if r.example.answers]
    word_recall = [answer_word_recall(r.result.text, r.example.answers) for r in with_answers]
    with_support = [r for r in records if r.example.supporting]
    support_kept = [
        all(
            any(d.id == sid and d.status is not DocumentStatus.DROPPED for d in r.result.documents)
            for sid in r.example.supporting
        )
        for r in with_support
    ]
    violations = sum(counter.count(r.result.text) > r.result.target_tokens for r in records)
    under = sum(
        r.result.original_tokens > r.result.target_tokens
        and r.result.compressed_tokens < 0.95 * r.result.target_tokens
        for r in records
    )
    latencies = [r.latency_ms for r in records]
    gist_records = [r for r in records if is_gist_result(r.result)]
    total_seconds = sum(latencies) / 1000
    original = sum(r.result.original_tokens for r in records)
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "answer_retention": statistics.fmean(retained) if retained else None,
        "answer_word_recall": statistics.fmean(word_recall) if word_recall else None,
        "supporting_retention": statistics.fmean(support_kept) if support_kept else None,
        "mean_ratio": statistics.fmean(r.result.ratio for r in records) if records else None,
        "mean_original_tokens": original / len(records) if records else None,
        "mean_compressed_tokens": statistics.fmean(r.result.compressed_tokens for r in records) if records else None,
        "mean_tokens_saved": statistics.fmean(r.result.tokens_saved for r in records) if records else None,
        "budget_violations": int(violations),
        "under_95_percent_of_budget": int(under),
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "mean_latency_ms": statistics.fmean(latencies) if latencies else None,
        "tokens_per_second": original / total_seconds if total_seconds > 0 else None,
        **(gist_summary(gist_records) if gist_records else {}),
    }


def gist_summary(records: Sequence[ExampleRecord]) -> dict[str, Any]:
    """For gist results: the decoder positions the gists take, and what their segments would cost as text."""
    out = {"mean_decoder_positions": statistics.fmean(r.result.compressed_tokens for r in records)}
    equivalent = [getattr(r.result, "equivalent_text_tokens", None) for r in records]
    if all(e is not None for e in equivalent):
        out["mean_equivalent_text_tokens"] = statistics.fmean(equivalent)  # type: ignore[arg-type]
    return out


def is_gist_result(result: Any) -> bool:
    """Whether a compressor's result carries gists (vectors for the decoder) rather than only text."""
    return callable(getattr(result, "context_gists", None))


def full_context(example: EvalExample, separator: str = "\n\n") -> str:
    """The uncompressed context a reader sees for the full-context reference."""
    return separator.join(d.text for d in example.documents if d.text.strip())


Context = str | CompressionResult | None


def reader_prompt(example: EvalExample, context: Context) -> ReaderPrompt:
    """The reader's prompt for ``example`` over ``context``: text, ``None`` (closed book) or a compressor's
    result, whose gists (``prompt_fragment()`` with placeholders, ``context_gists()``) go in when it has them."""
    long_answer = bool(example.meta.get("long_answer"))
    if is_gist_result(context):
        return ReaderPrompt(example.question, context.prompt_fragment(), long_answer,  # type: ignore[union-attr]
                            gists=context.context_gists())  # type: ignore[union-attr]
    text = context.text if isinstance(context, CompressionResult) else context
    return ReaderPrompt(example.question, text, long_answer)


def _prompts(examples: Sequence[EvalExample], contexts: Sequence[Context]) -> list[ReaderPrompt]:
    if len(examples) != len(contexts):
        raise ValueError(f"got {len(examples)} examples but {len(contexts)} contexts")
    return [reader_prompt(ex, ctx) for ex, ctx in zip(examples, contexts, strict=True)]


def read(reader: Reader, examples: Sequence[EvalExample], contexts: Sequence[Context]) -> list[str]:
    """The reader's replies to ``examples`` given ``contexts`` (``None`` = closed book), in order."""
    return reader.answer(_prompts(examples, contexts))


def scores_answers(reader: Reader | None) -> bool:
    """Whether ``reader`` can score a gold answer (has ``answer_nll``)."""
    return isinstance(reader, LikelihoodReader)


def gold_answer_nll(reader: LikelihoodReader, examples: Sequence[EvalExample],
                    contexts: Sequence[Context]) -> list[float | None]:
    """The reader's mean NLL (nats per token) of each example's first gold answer given its context, in order;
    ``None`` for an example without one."""
    prompts = _prompts(examples, contexts)
    chosen = [i for i, ex in enumerate(examples) if ex.answers and ex.answers[0].strip()]
    values = reader.answer_nll([prompts[i] for i in chosen], [examples[i].answers[0] for i in chosen])
    out: list[float | None] = [None] * len(examples)
    for i, value in zip(chosen, values, strict=True):
        out[i] = value
    return out


def mean_nll(values: Sequence[float | None] | None, prefix: str = "") -> dict[str, Any]:
    """``{prefix}answer_nll``: the mean over the questions that have a value (nothing when none has)."""
    present = [v for v in values or () if v is not None]
    return {f"{prefix}answer_nll": statistics.fmean(present)} if present else {}


def score_replies(examples: Sequence[EvalExample], replies: Sequence[str | None], prefix: str = "") -> dict[str, Any]:
    """``{prefix}reader_accuracy`` (a normalised gold answer occurs in the normalised reply) and
    ``{prefix}reader_f1`` for short answers; ``{prefix}reader_rouge_l`` for long free-form answers."""
    pairs = [(ex, rep) for ex, rep in zip(examples, replies, strict=True) if rep is not None and ex.answers]
    short = [(ex, rep) for ex, rep in pairs if not ex.meta.get("long_answer")]
    long = [(ex, rep) for ex, rep in pairs if ex.meta.get("long_answer")]
    out: dict[str, Any] = {}
    if short:
        out[f"{prefix}reader_accuracy"] = statistics.fmean(contains_answer(rep, ex.answers) for ex, rep in short)
        out[f"{prefix}reader_f1"] = statistics.fmean(token_f1(rep, ex.answers) for ex, rep in short)
    if long:
        out[f"{prefix}reader_rouge_l"] = statistics.fmean(rouge_l(rep, ex.answers) for ex, rep in long)
    return out


@dataclass
class ReaderReferences:
    """Closed-book and full-context replies for the first ``len(examples)`` questions, computed once per data
    set subset and reused across compressors and budgets."""

    reader: str
    examples: list[EvalExample]
    closed_book: list[str]
    full_context: list[str]
    closed_book_nll: list[float | None] | None = None  # gold-answer NLLs, when the reader scores answers
    full_context_nll: list[float | None] | None = None

    @classmethod
    def compute(cls, reader: Reader, examples: Sequence[EvalExample]) -> ReaderReferences:
        examples = list(examples)
        closed_contexts: list[Context] = [None] * len(examples)
        full_contexts: list[Context] = [full_context(ex) for ex in examples]
        closed = read(reader, examples, closed_contexts)
        full = read(reader, examples, full_contexts)
        if not scores_answers(reader):
            return cls(reader.name, examples, closed, full)
        return cls(reader.name, examples, closed, full, gold_answer_nll(reader, examples, closed_contexts),  # type: ignore[arg-type]
                   gold_answer_nll(reader, examples, full_contexts))  # type: ignore[arg-type]

    def head(self, n: int) -> ReaderReferences:
        """The references of the first ``n`` questions."""
        def cut(values: list[Any] | None) -> list[Any] | None:
            return None if values is None else values[:n]

        return ReaderReferences(self.reader, self.examples[:n], self.closed_book[:n], self.full_context[:n],
                                cut(self.closed_book_nll), cut(self.full_context_nll))

    def scores(self) -> dict[str, Any]:
        out = score_replies(self.examples, self.closed_book, "closed_book_")
        out.update(score_replies(self.examples, self.full_context, "full_context_"))
        out.update(mean_nll(self.closed_book_nll, "closed_book_"))
        out.update(mean_nll(self.full_context_nll, "full_context_"))
        return out


def add_replies(reader: Reader, records: Sequence[ExampleRecord], limit: int | None = None) -> float:
    """Ask ``reader`` each of the first ``limit`` records' questions over its compressed context (its gists for
    a gist compressor); returns seconds."""
    return _annotate(records, limit, "reply", lambda examples, contexts: read(reader, examples, contexts))


def add_answer_nll(reader: LikelihoodReader, records: Sequence[ExampleRecord], limit: int | None = None) -> float:
    """Score the first gold answer of each of the first ``limit`` records over its compressed context; seconds."""
    return _annotate(records, limit, "answer_nll",
                     lambda examples, contexts: gold_answer_nll(reader, examples, contexts))


def _annotate(records: Sequence[ExampleRecord], limit: int | None, attribute: str,
              compute: Callable[[list[EvalExample], list[Context]], Sequence[Any]]) -> float:
    """Set ``attribute`` of the first ``limit`` records to ``compute(examples, results)``; returns seconds."""
    chosen = list(records[:limit] if limit else records)
    start = time.perf_counter()
    values = compute([r.example for r in chosen], [r.result for r in chosen])
    for rec, value in zip(chosen, values, strict=True):
        setattr(rec, attribute, value)
    return time.perf_counter() - start


def reader_summary(records: Sequence[ExampleRecord], references: ReaderReferences | None = None) -> dict[str, Any]:
    """Reader scores on the records that have replies, with the references on the same questions; with gold-answer
    NLLs, ``answer_nll_gap_closed``: the share of the closed-book to full-context NLL gap the context closes."""
    read_records = [r for r in records if r.reply is not None]
    out: dict[str, Any] = {"n_reader": len(read_records)}
    out.update(score_replies([r.example for r in read_records], [r.reply for r in read_records]))
    out.update(mean_nll([r.answer_nll for r in read_records]))
    if references is not None:
        ids = [r.example.id for r in read_records]
        if [ex.id for ex in references.examples[:len(ids)]] != ids:
            raise ValueError("reader references were computed on other questions than the records'")
        out.update(references.head(len(ids)).scores())
    keys = ("answer_nll", "closed_book_answer_nll", "full_context_answer_nll")
    if all(k in out for k in keys) and out[keys[1]] != out[keys[2]]:
        out["answer_nll_gap_closed"] = (out[keys[1]] - out[keys[0]]) / (out[keys[1]] - out[keys[2]])
    return out


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``contextzip eval -o``) as constructor arguments; a VALUE that parses as JSON is
    read as JSON (numbers, booleans, null, lists), any other as a string."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option: expected KEY=VALUE, but got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def trained_on(compressor: BaseCompressor) -> set[str]:
    """The evaluation data sets the models of ``compressor`` (or of its scorers) were trained on: each object
    may say so in a ``trained_on`` attribute (e.g. ``("squad",)`` for ``contextzip-relevance``)."""
    out: set[str] = set()
    seen: set[int] = set()
    stack: list[Any] = [compressor]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        out.update(getattr(obj, "trained_on", ()) or ())
        for attr in ("scorer", "sentence_scorer", "fine", "scorers"):
            child = getattr(obj, attr, None)
            stack.extend(child if isinstance(child, (list, tuple)) else [child])
    return out


def run_eval(
    dataset: str,
    compressor: str | BaseCompressor,
    *,
    target_tokens: int | None = None,
    rate: float | None = None,
    limit: int | None = None,
    data_dir: str | None = None,
    compressor_kwargs: dict[str, Any] | None = None,
    show_progress_bar: bool = False,
    reader: str | Reader | None = None,
    reader_limit: int | None = None,
    references: ReaderReferences | None = None,
    split: str = "all",
) -> tuple[dict[str, Any], list[ExampleRecord]]:
    """Evaluate one compressor at one budget; returns the summary dict and the per-example records.

    ``split`` ("all", "tune" or "report", see :func:`contextzip.eval.datasets.split_examples`) is recorded in
    the summary, and so is ``in_sample``: whether a model of the compressor was trained on this data set.

    With a ``reader`` ("smollm2", "openai:<model>" or a :class:`Reader`), the first ``reader_limit`` questions
    (all by default) are also answered from the compressed context, and from no context and the full context
    (``references``, computed here unless given) so the effect of compression reads between the two. A reader
    that scores answers (``answer_nll``, e.g. smollm2) adds the gold answer's mean NLL in the three settings.
    """
    if reader_limit is not None and reader_limit <= 0:
        raise ValueError(f"reader_limit must be > 0, but got {reader_limit}")
    reader_obj = get_reader(reader) if isinstance(reader, str) or reader is None else reader
    comp = compressor if isinstance(compressor, BaseCompressor) else load_compressor(compressor, **(compressor_kwargs or {}))
    examples = load_dataset(dataset, data_dir, limit, split)
    records = compress_examples(comp, examples, target_tokens=target_tokens, rate=rate,
                                show_progress_bar=show_progress_bar)
    summary: dict[str, Any] = {"dataset": dataset, "split": split, "in_sample": dataset in trained_on(comp),
                               "compressor": comp.name}
    if rate is not None:
        summary["rate"] = rate
    else:
        summary["budget"] = target_tokens
    summary["token_counter"] = comp.token_counter.name
    summary.update(summarize(records, comp))
    if reader_obj is not None:
        n = min(reader_limit or len(records), len(records))
        if (references is None or len(references.examples) < n
                or (scores_answers(reader_obj) and references.closed_book_nll is None)):
            references = ReaderReferences.compute(reader_obj, examples[:n])
        summary.update(read_records(reader_obj, records, references, n))
    return summary, records


def read_records(reader: Reader, records: Sequence[ExampleRecord], references: ReaderReferences | None,
                 limit: int | None = None) -> dict[str, Any]:
    """Ask ``reader`` the first ``limit`` records' questions (and score their gold answers when it can); returns
    the summary's reader keys, with ``references`` on the same questions."""
    out: dict[str, Any] = {"reader": reader.name, "reader_seconds": add_replies(reader, records, limit)}
    if scores_answers(reader):
        out["reader_nll_seconds"] = add_answer_nll(reader, records, limit)  # type: ignore[arg-type]
    out.update(reader_summary(records, references))
    return out
