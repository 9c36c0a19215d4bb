"""Cells of the benchmarks page: one (data set, method, rate) measurement, computed once and cached as JSON.

A cell lives at ``<results>/<dataset>/<method>@<rate>.json`` with the settings it was computed with (questions,
questions read, reader); a cell whose settings match is reused. The reader's closed-book and full-context
references are cached per data set next to the cells, and ``<results>/not_run.json`` says why a method could not
run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import time
import traceback
from typing import Any

from benchmarks.common import ROOT, machine
from benchmarks.methods import METHODS_BY_NAME, Method
from contextzip.eval.datasets import EvalExample, load_dataset
from contextzip.eval.metrics import contains_answer
from contextzip.eval.runner import (
    ReaderReferences,
    add_replies,
    compress_examples,
    reader_summary,
    summarize,
)

logger = logging.getLogger(__name__)


def per_dataset(value: str, datasets: list[str], default: int = 0) -> dict[str, int]:
    """"30" -> every data set 30; "nq=30,hotpotqa=15" -> per data set (others ``default``)."""
    if "=" not in value:
        return {d: int(value) for d in datasets}
    out = {d: default for d in datasets}
    for part in value.split(","):
        name, _, num = part.partition("=")
        out[name.strip()] = int(num)
    return out


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_json(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


# --- the cache -----------------------------------------------------------------------------------------------


def cell_path(results_dir: str, dataset: str, method: str, rate: float) -> str:
    return os.path.join(results_dir, dataset, f"{method}@{rate:g}.json")


def load_cells(results_dir: str, dataset: str, methods: list[str], rates: list[float]) -> list[dict[str, Any]]:
    """The cached cells of ``dataset``, method-major, skipping those not computed."""
    paths = [cell_path(results_dir, dataset, name, rate) for name in methods for rate in rates]
    return [_read_json(path) for path in paths if os.path.exists(path)]


def _references_path(results_dir: str, dataset: str, reader_name: str) -> str:
    return os.path.join(results_dir, dataset, f"references-{reader_name.replace(':', '_')}.json")


def read_references(results_dir: str, dataset: str, reader_name: str | None) -> dict[str, Any] | None:
    """The stored closed-book / full-context references of ``reader_name`` on ``dataset``, if computed."""
    if not reader_name:
        return None
    path = _references_path(results_dir, dataset, reader_name)
    return _read_json(path) if os.path.exists(path) else None


def load_references(results_dir: str, dataset: str, reader: Any, examples: list[EvalExample],
                    fresh: bool) -> ReaderReferences:
    """The reader's references on ``examples``: from the cache when it covers them, else computed and stored."""
    ids = [ex.id for ex in examples]
    data = None if fresh else read_references(results_dir, dataset, reader.name)
    if data is not None and data["ids"][:len(ids)] == ids:
        n = len(ids)
        return ReaderReferences(reader.name, examples, data["closed_book"][:n], data["full_context"][:n])
    logger.info("%s: reader references (closed book, full context) on %d questions", dataset, len(examples))
    start = time.perf_counter()
    refs = ReaderReferences.compute(reader, examples)
    _write_json(_references_path(results_dir, dataset, reader.name),
                {"ids": ids, "closed_book": refs.closed_book, "full_context": refs.full_context,
                 "seconds": time.perf_counter() - start, **refs.scores()})
    return refs


def _not_run_path(results_dir: str) -> str:
    return os.path.join(results_dir, "not_run.json")


def read_not_run(results_dir: str) -> dict[str, str]:
    """Why each method recorded as not run could not run (empty when none is recorded)."""
    path = _not_run_path(results_dir)
    return _read_json(path) if os.path.exists(path) else {}


# --- computing cells -----------------------------------------------------------------------------------------


def run_cell(method: Method, compressor: Any, examples: list[EvalExample], rate: float, reader: Any,
             n_reader: int, references: ReaderReferences | None) -> dict[str, Any]:
    """Compress ``examples`` at ``rate`` (the reader answers the first ``n_reader``): the summary and every row."""
    warmup = 1 if method.uses_lm else 2
    records = compress_examples(compressor, examples, rate=rate, warmup=warmup)
    summary: dict[str, Any] = {"method": method.name, "rate": rate}
    summary.update(summarize(records, compressor))
    if reader is not None and n_reader > 0:
        summary["reader"] = reader.name
        summary["reader_seconds"] = add_replies(reader, records, n_reader)
        summary.update(reader_summary(records, references))
    summary["rows"] = [
        {
            "id": r.example.id,
            "retained": None if r.example.skip_answer or not r.example.answers
            else contains_answer(r.result.text, r.example.answers),
            "original_tokens": r.result.original_tokens,
            "compressed_tokens": r.result.compressed_tokens,
            "target_tokens": r.result.target_tokens,
            "violation": compressor.token_counter.count(r.result.text) > r.result.target_tokens,
            "latency_ms": r.latency_ms,
            "reply": r.reply,
            "reader_correct": None if r.reply is None else contains_answer(r.reply, r.example.answers),
        }
        for r in records
    ]
    return summary


def git_head() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _is_cached(path: str, settings: dict[str, Any]) -> bool:
    return os.path.exists(path) and _read_json(path).get("settings") == settings


def _build(method: Method) -> Any:
    compressor = method.build()
    if hasattr(compressor, "warm_up"):
        compressor.warm_up()
    return compressor


def _why(exc: Exception) -> str:
    logger.debug("%s", traceback.format_exc())
    return f"{type(exc).__name__}: {exc}".strip()


def run_all(args: argparse.Namespace) -> dict[str, str]:
    """Compute every cell of ``args`` that is not cached with the same settings (all of them with ``--fresh``).

    Returns, and stores in ``not_run.json``, why each method that could not be built or failed did not run.
    """
    from contextzip.eval.readers import get_reader

    reader = get_reader(args.reader)
    limits = per_dataset(args.limit, args.datasets, default=100)
    lm_limits = per_dataset(args.lm_limit, args.datasets, default=20)
    reader_limits = per_dataset(args.reader_limit, args.datasets) if reader is not None else {}
    skipped: dict[str, str] = {}
    for dataset in args.datasets:
        examples_all = load_dataset(dataset, args.data_dir, max(limits[dataset], lm_limits[dataset]))
        n_reader_max = min(reader_limits.get(dataset, 0), len(examples_all))
        references = None
        if reader is not None and n_reader_max > 0:
            references = load_references(args.results_dir, dataset, reader, examples_all[:n_reader_max], args.fresh)
        for name in args.methods:
            method = METHODS_BY_NAME[name]
            n = min(lm_limits[dataset] if method.uses_lm else limits[dataset], len(examples_all))
            examples = examples_all[:n]
            n_reader = min(n_reader_max, n)
            settings = {"n": n, "n_reader": n_reader, "reader": reader.name if reader and n_reader else None}
            compressor = None
            for rate in args.rates:
                path = cell_path(args.results_dir, dataset, name, rate)
                if not args.fresh and _is_cached(path, settings):
                    logger.info("cached: %s %s @%g", dataset, name, rate)
                    continue
                if name in skipped:
                    break
                if compressor is None:
                    try:
                        compressor = _build(method)
                    except Exception as exc:  # record exactly why a method could not run
                        skipped[name] = _why(exc)
                        logger.warning("%s not run: %s", name, skipped[name])
                        break
                logger.info("running: %s %s @%g on %d questions (reader on %d)", dataset, name, rate, n, n_reader)
                start = time.perf_counter()
                try:
                    cell = run_cell(method, compressor, examples, rate, reader, n_reader, references)
                except Exception as exc:
                    skipped[name] = f"failed on {dataset} at rate {rate:g}: {_why(exc)}"
                    logger.warning("%s", skipped[name])
                    break
                cell["settings"] = settings
                cell["wall_seconds"] = time.perf_counter() - start
                cell["computed_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                cell["git_commit"] = git_head()
                cell["machine"] = machine()
                _write_json(path, cell)
                logger.info("done in %.0f s: retention %s", cell["wall_seconds"], cell.get("answer_retention"))
    previous = {} if args.fresh else read_not_run(args.results_dir)
    not_run = {k: v for k, v in previous.items() if k not in args.methods}
    not_run.update(skipped)
    _write_json(_not_run_path(args.results_dir), not_run)
    return not_run


def retention_interval(cell: dict[str, Any], level: float = 0.95) -> tuple[float, float] | None:
    """The bootstrap interval of a cell's answer retention over its questions (``None`` without any)."""
    from contextzip.stats import bootstrap_interval

    return bootstrap_interval([float(r["retained"]) for r in cell["rows"] if r["retained"] is not None], level)


def split_retention(cell: dict[str, Any], dataset: str, split: str) -> tuple[float | None, int]:
    """A cell's answer retention on the ``tune`` or ``report`` half of its questions (``contextzip eval
    --split``: NQ's first 300 / the rest, other sets' even / odd positions) and how many questions that is."""
    from contextzip.eval.datasets import split_examples

    kept = [r["retained"] for r in split_examples(dataset, list(cell["rows"]), split) if r["retained"] is not None]
    return (sum(kept) / len(kept) if kept else None), len(kept)
