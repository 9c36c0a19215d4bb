"""``contextzip eval``: run a compressor over a data set and measure what survives, at what cost."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contextzip.compressors.base import BaseCompressor
from contextzip.eval.datasets import EvalExample, load_dataset
from contextzip.eval.metrics import contains_answer, percentile
from contextzip.registry import load_compressor
from contextzip.types import CompressionResult, DocumentStatus

logger = logging.getLogger(__name__)


@dataclass
class ExampleRecord:
    example: EvalExample
    result: CompressionResult
    latency_ms: float


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
    total_seconds = sum(latencies) / 1000
    original = sum(r.result.original_tokens for r in records)
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "answer_retention": statistics.fmean(retained) if retained else None,
        "supporting_retention": statistics.fmean(support_kept) if support_kept else None,
        "mean_ratio": statistics.fmean(r.result.ratio for r in records) if records else None,
        "mean_original_tokens": original / len(records) if records else None,
        "mean_compressed_tokens": statistics.fmean(r.result.compressed_tokens for r in records) if records else None,
        "mean_tokens_saved": statistics.fmean(r.result.tokens_saved for r in records) if records else None,
        "budget_violations": int(violations),
        "under_95_percent_of_budget": int(under),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "tokens_per_second": original / total_seconds if total_seconds > 0 else None,
    }


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
) -> tuple[dict[str, Any], list[ExampleRecord]]:
    """Evaluate one compressor at one budget; returns the summary dict and the per-example records."""
    comp = compressor if isinstance(compressor, BaseCompressor) else load_compressor(compressor, **(compressor_kwargs or {}))
    examples = load_dataset(dataset, data_dir, limit)
    records = compress_examples(comp, examples, target_tokens=target_tokens, rate=rate,
                                show_progress_bar=show_progress_bar)
    summary: dict[str, Any] = {"dataset": dataset, "compressor": comp.name}
    if rate is not None:
        summary["rate"] = rate
    else:
        summary["budget"] = target_tokens
    summary["token_counter"] = comp.token_counter.name
    summary.update(summarize(records, comp))
    return summary, records
