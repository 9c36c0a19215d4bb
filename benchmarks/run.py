"""Regenerate docs/benchmarks.md and its plots: contextzip, its baselines and peer systems, side by side.

    .venv/bin/python benchmarks/run.py                      # what `make bench` runs
    .venv/bin/python benchmarks/run.py --limit 100 --lm-limit 30 --reader-limit nq=30,hotpotqa=15
    .venv/bin/python benchmarks/run.py --render-only         # rebuild the page from benchmarks/results/

Every (data set, method, rate) cell runs on the first ``--limit`` questions (``--lm-limit`` for methods that run
a language model per question, which are slow on CPU), and the reader (SmolLM2-135M-Instruct by default) answers
the first ``--reader-limit`` of them. Cells are cached as JSON under ``benchmarks/results/`` keyed by their
settings, so a re-run only computes what is missing (``--fresh`` recomputes everything). The page also appends
every ``docs/sections/*.md`` verbatim.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from contextzip.eval.datasets import EvalExample, load_dataset  # noqa: E402
from contextzip.eval.metrics import contains_answer  # noqa: E402
from contextzip.eval.runner import (  # noqa: E402
    ReaderReferences,
    add_replies,
    compress_examples,
    reader_summary,
    summarize,
)

logger = logging.getLogger("benchmarks")

DEFAULT_METHOD = "query-guided"



@dataclass(frozen=True)
class Method:
    """One row family: how to build it, whether it runs an LM per question, and who made it."""

    name: str
    label: str
    family: str  # "contextzip", "baseline" or "peer"
    build: Callable[[], Any]
    uses_lm: bool = False


def _registry(name: str) -> Callable[[], Any]:
    def build() -> Any:
        from contextzip.registry import load_compressor

        return load_compressor(name)

    return build


def _peer(module: str, cls: str) -> Callable[[], Any]:
    def build() -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)()

    return build


METHODS = [
    Method("query-guided", "contextzip query-guided (default)", "contextzip", _registry("query-guided")),
    Method("coarse-to-fine", "contextzip coarse-to-fine", "contextzip", _registry("coarse-to-fine"), uses_lm=True),
    Method("token-classification", "contextzip token-classification", "contextzip",
           _registry("token-classification"), uses_lm=True),
    Method("long-perplexity", "contextzip long-perplexity", "contextzip", _registry("long-perplexity"), uses_lm=True),
    Method("truncate", "baseline: truncate", "baseline", _registry("truncate")),
    Method("random-sentences", "baseline: random sentences", "baseline", _registry("random-sentences")),
    Method("bm25-sentences", "baseline: BM25 sentences", "baseline", _registry("bm25-sentences")),
    Method("llmlingua", "peer: LLMLingua (llmlingua 0.2.2, SmolLM2-135M)", "peer",
           _peer("benchmarks.peers.llmlingua_peer", "LLMLinguaPeer"), uses_lm=True),
    Method("longllmlingua", "peer: LongLLMLingua (llmlingua 0.2.2, SmolLM2-135M)", "peer",
           _peer("benchmarks.peers.llmlingua_peer", "LongLLMLinguaPeer"), uses_lm=True),
    Method("langchain-embeddings-filter", "peer: LangChain EmbeddingsFilter pipeline (MiniLM)", "peer",
           _peer("benchmarks.peers.langchain_peer", "LangChainEmbeddingsFilterPeer")),
]
METHODS_BY_NAME = {m.name: m for m in METHODS}


def per_dataset(value: str, datasets: list[str], default: int = 0) -> dict[str, int]:
    """"30" -> every data set 30; "nq=30,hotpotqa=15" -> per data set (others ``default``)."""
    if "=" not in value:
        return {d: int(value) for d in datasets}
    out = {d: default for d in datasets}
    for part in value.split(","):
        name, _, num = part.partition("=")
        out[name.strip()] = int(num)
    return out


# --- running cells -------------------------------------------------------------------------------------------


def cell_path(results_dir: str, dataset: str, method: str, rate: float) -> str:
    return os.path.join(results_dir, dataset, f"{method}@{rate:g}.json")


def run_cell(method: Method, compressor: Any, examples: list[EvalExample], rate: float, reader: Any,
             n_reader: int, references: ReaderReferences | None) -> dict[str, Any]:
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


def _references_path(results_dir: str, dataset: str, reader_name: str) -> str:
    return os.path.join(results_dir, dataset, f"references-{reader_name.replace(':', '_')}.json")


def read_references(results_dir: str, dataset: str, reader_name: str | None) -> dict[str, Any] | None:
    """The stored closed-book / full-context references of ``reader_name`` on ``dataset``, if computed."""
    if not reader_name:
        return None
    path = _references_path(results_dir, dataset, reader_name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_references(results_dir: str, dataset: str, reader: Any, examples: list[EvalExample],
                    fresh: bool) -> ReaderReferences:
    path = _references_path(results_dir, dataset, reader.name)
    ids = [ex.id for ex in examples]
    data = None if fresh else read_references(results_dir, dataset, reader.name)
    if data is not None:
        if data["ids"][:len(ids)] == ids:
            n = len(ids)
            return ReaderReferences(reader.name, examples, data["closed_book"][:n], data["full_context"][:n])
    logger.info("%s: reader references (closed book, full context) on %d questions", dataset, len(examples))
    start = time.perf_counter()
    refs = ReaderReferences.compute(reader, examples)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"ids": ids, "closed_book": refs.closed_book, "full_context": refs.full_context,
                   "seconds": time.perf_counter() - start, **refs.scores()}, f, indent=1)
    return refs


def _git_head() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_all(args: argparse.Namespace) -> dict[str, Any]:
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
            compressor = None
            for rate in args.rates:
                path = cell_path(args.results_dir, dataset, name, rate)
                want = {"n": n, "n_reader": n_reader, "reader": reader.name if reader and n_reader else None}
                if not args.fresh and os.path.exists(path):
                    with open(path, encoding="utf-8") as f:
                        cached = json.load(f)
                    if cached.get("settings") == want:
                        logger.info("cached: %s %s @%g", dataset, name, rate)
                        continue
                if name in skipped:
                    break
                if compressor is None:
                    try:
                        compressor = method.build()
                        if hasattr(compressor, "warm_up"):
                            compressor.warm_up()
                    except Exception as exc:  # record exactly why a method could not run
                        skipped[name] = f"{type(exc).__name__}: {exc}".strip()
                        logger.warning("%s not run: %s", name, skipped[name])
                        logger.debug("%s", traceback.format_exc())
                        break
                logger.info("running: %s %s @%g on %d questions (reader on %d)", dataset, name, rate, n, n_reader)
                start = time.perf_counter()
                try:
                    cell = run_cell(method, compressor, examples, rate, reader, n_reader, references)
                except Exception as exc:
                    skipped[name] = f"failed on {dataset} at rate {rate:g}: {type(exc).__name__}: {exc}"
                    logger.warning("%s", skipped[name])
                    logger.debug("%s", traceback.format_exc())
                    break
                cell["settings"] = want
                cell["wall_seconds"] = time.perf_counter() - start
                cell["computed_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                cell["git_commit"] = _git_head()
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(cell, f, indent=1)
                logger.info("done in %.0f s: retention %s", cell["wall_seconds"], cell.get("answer_retention"))
    skipped_path = os.path.join(args.results_dir, "not_run.json")
    previous: dict[str, str] = {}
    if os.path.exists(skipped_path) and not args.fresh:
        with open(skipped_path, encoding="utf-8") as f:
            previous = json.load(f)
    previous = {k: v for k, v in previous.items() if k not in args.methods}
    previous.update(skipped)
    with open(skipped_path, "w", encoding="utf-8") as f:
        json.dump(previous, f, indent=1)
    return previous


# --- rendering -----------------------------------------------------------------------------------------------


def load_cells(results_dir: str, dataset: str, methods: list[str], rates: list[float]) -> list[dict[str, Any]]:
    cells = []
    for name in methods:
        for rate in rates:
            path = cell_path(results_dir, dataset, name, rate)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    cells.append(json.load(f))
    return cells


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, spec)


def table(cells: list[dict[str, Any]]) -> str:
    head = ("| method | rate | n | answer retention | reader acc. (n) | reader F1 | ratio | tokens in → out | "
            "saved / q | budget violations | under 95% | p50 / p95 ms | tokens/s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    defaults = {c["rate"]: c for c in cells if c["method"] == DEFAULT_METHOD}
    for c in sorted(cells, key=lambda c: (-c["rate"], [m.name for m in METHODS].index(c["method"]))):
        reader = "–" if not c.get("n_reader") else f"{_fmt(c.get('reader_accuracy'))} ({c['n_reader']})"
        retention = _fmt(c.get("answer_retention"))
        default = defaults.get(c["rate"])
        if default is not None and c["method"] != DEFAULT_METHOD and c["n"] < default["n"]:
            same, _, _ = _subset_stats(default, {r["id"] for r in c["rows"]})
            retention += f" (default: {_fmt(same)})"
        lines.append(
            f"| {METHODS_BY_NAME[c['method']].label} | {c['rate']:g} | {c['n']} | {retention} | "
            f"{reader} | {_fmt(c.get('reader_f1')) if c.get('n_reader') else '–'} | {_fmt(c.get('mean_ratio'))} | "
            f"{_fmt(c.get('mean_original_tokens'), '.0f')} → {_fmt(c.get('mean_compressed_tokens'), '.0f')} | "
            f"{_fmt(c.get('mean_tokens_saved'), '.0f')} | {c.get('budget_violations')} | "
            f"{c.get('under_95_percent_of_budget')} | {_fmt(c.get('p50_ms'), '.0f')} / {_fmt(c.get('p95_ms'), '.0f')} | "
            f"{_fmt(c.get('tokens_per_second'), ',.0f')} |"
        )
    return "\n".join(lines)


def references_line(data: dict[str, Any] | None, reader_name: str | None) -> str:
    if data is None:
        return ""
    n = len(data["ids"])
    return (f"Reader references on the same first {n} questions ({reader_name}): closed book (no context) "
            f"accuracy {_fmt(data.get('closed_book_reader_accuracy'))} / F1 {_fmt(data.get('closed_book_reader_f1'))}; "
            f"full uncompressed context accuracy {_fmt(data.get('full_context_reader_accuracy'))} / "
            f"F1 {_fmt(data.get('full_context_reader_f1'))}.")


def _subset_stats(cell: dict[str, Any], ids: set[str]) -> tuple[float | None, float, int]:
    rows = [r for r in cell["rows"] if r["id"] in ids]
    kept = [r["retained"] for r in rows if r["retained"] is not None]
    return (statistics.fmean(kept) if kept else None, statistics.fmean(r["compressed_tokens"] for r in rows),
            sum(r["violation"] for r in rows))


def verdict(cells: list[dict[str, Any]], dataset: str, rate: float) -> list[str]:
    """Sentences, generated from the numbers, on whether the default beats every other row on the same questions."""
    by_method = {c["method"]: c for c in cells if c["rate"] == rate}
    default = by_method.get(DEFAULT_METHOD)
    if default is None:
        return [f"No `{DEFAULT_METHOD}` result on {dataset} at rate {rate:g}."]
    out = []
    all_ok = default["budget_violations"] == 0
    if not all_ok:
        out.append(f"**Not met:** `{DEFAULT_METHOD}` had {default['budget_violations']} budget violations.")
    for name, cell in by_method.items():
        family = METHODS_BY_NAME[name].family
        if family == "contextzip":
            continue
        ids = {r["id"] for r in cell["rows"]}
        d_ret, d_tok, _ = _subset_stats(default, ids)
        p_ret, p_tok, p_viol = _subset_stats(cell, ids)
        if d_ret is None or p_ret is None:
            continue
        label = METHODS_BY_NAME[name].label
        budget = statistics.fmean(r["target_tokens"] for r in default["rows"] if r["id"] in ids)
        larger = d_tok > p_tok + 0.5
        # "Equal or smaller output": smaller mean output, or both within the same budget (the peer used less of it).
        size_ok = not larger or (p_viol == 0 and d_tok <= budget)
        if d_ret > p_ret and size_ok:
            note = ""
            if larger:
                note = (f"; note: the peer's output is {100 * (1 - p_tok / d_tok):.0f}% smaller ({p_tok:.0f} vs "
                        f"{d_tok:.0f} mean tokens), both within the same budget ({budget:.0f} mean)")
            out.append(f"- beats {label}: answer retention {d_ret:.3f} vs {p_ret:.3f} on the same {len(ids)} "
                       f"questions, at {d_tok:.0f} vs {p_tok:.0f} mean output tokens (its budget violations: "
                       f"{p_viol}){note}.")
        else:
            all_ok = False
            why = []
            why.append(f"answer retention {d_ret:.3f} vs {p_ret:.3f}"
                       + (" (a tie)" if d_ret == p_ret else " (lower)" if d_ret < p_ret else " (higher)"))
            if not size_ok:
                why.append(f"but the peer's mean output is smaller ({p_tok:.0f} vs {d_tok:.0f} tokens"
                           + (f", though it overshot the budget on {p_viol} of {len(ids)} questions" if p_viol else "")
                           + ")")
            elif p_viol:
                why.append(f"(the peer overshot the budget on {p_viol} of {len(ids)} questions, at {p_tok:.0f} vs "
                           f"{d_tok:.0f} mean output tokens)")
            out.append(f"- **does not beat {label}** on the same {len(ids)} questions: {'; '.join(why)}.")
    head = (f"**Verdict ({dataset} at rate {rate:g}, `{DEFAULT_METHOD}` against every peer and baseline row, each "
            "compared on that row's questions):** "
            + ("contextzip's default beats every peer and baseline row with a result here on answer retention at "
               "the same budget (equal or smaller output, or both within the budget; details below), with zero "
               "budget violations." if all_ok else
               "contextzip's default does **not** beat every row; the rows it does not beat are named below."))
    absent = [m.label for m in METHODS if m.family != "contextzip" and m.name not in by_method]
    if absent:
        out.append(f"- no result at this rate for: {'; '.join(absent)} (see *Rows that did not run*), so "
                   "not compared.")
    return [head, *out]


def plot(cells: list[dict[str, Any]], dataset: str, refs: dict[str, Any] | None, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_reader = any(c.get("n_reader") for c in cells)
    fig, axes = plt.subplots(1, 2 if has_reader else 1, figsize=(13 if has_reader else 9, 5.5 if has_reader else 7),
                             squeeze=False)
    styles = {"contextzip": "-", "baseline": ":", "peer": "--"}
    n = max(c["n"] for c in cells)
    panels = [("answer_retention", f"answer retention (gold answer in context, up to {n} questions)")]
    if has_reader:
        n_reader = max(c.get("n_reader") or 0 for c in cells)
        reader_name = next((c["reader"] for c in cells if c.get("reader")), "reader")
        panels.append(("reader_accuracy", f"reader accuracy ({reader_name}, first {n_reader} questions)"))
    cmap = plt.get_cmap("tab10")
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for i, m in enumerate(METHODS):
            pts = sorted((c["mean_ratio"], c.get(key)) for c in cells
                         if c["method"] == m.name and c.get(key) is not None)
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            n_m = max(c["n"] for c in cells if c["method"] == m.name)
            label = m.label + (f" [n={n_m}]" if n_m != n else "")
            ax.plot(xs, ys, styles[m.family], marker="o", color=cmap(i % 10), label=label,
                    linewidth=2.5 if m.name == DEFAULT_METHOD else 1.5)
        if key == "reader_accuracy" and refs:
            for ref_key, ref_label, ls, x in (("full_context_reader_accuracy", "full context", "-.", 0.01),
                                              ("closed_book_reader_accuracy", "closed book", (0, (1, 3)), 0.99)):
                if refs.get(ref_key) is not None:
                    ax.axhline(refs[ref_key], color="grey", linestyle=ls, linewidth=1.2)
                    ax.text(x, refs[ref_key] + 0.01, f"{ref_label} {refs[ref_key]:.2f}", color="dimgrey",
                            fontsize=8, transform=ax.get_yaxis_transform(), ha="left" if x < 0.5 else "right")
        ax.set_xlabel("mean compression ratio (output tokens / input tokens)")
        ax.set_ylabel(title.split(" (")[0])
        ax.set_xlim(0, max([0.6] + [c["mean_ratio"] + 0.05 for c in cells]))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{dataset}: {title}", fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = 3 if has_reader else 2
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    rows = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, min(0.45, 0.04 + 0.035 * rows * (5.5 / fig.get_figheight())), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def environment() -> list[str]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        mem = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"
    versions = []
    for pkg in ("contextzip", "torch", "transformers", "tiktoken", "sentence-transformers", "llmlingua",
                "langchain-core", "langchain-classic", "langchain-community", "rouge-score", "matplotlib"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return [
        f"- Machine: {cpu}, {os.cpu_count()} logical CPUs, {mem}, {device}; {platform.system()} "
        f"{platform.release()}; torch threads {torch.get_num_threads()}.",
        f"- Python {platform.python_version()}; " + ", ".join(versions) + ".",
    ]


def _reader_skip_reason(data: dict[str, Any] | None) -> str:
    """The measured reason, from an earlier references run on this data set, when there is one."""
    if data is None:
        return ""
    n = len(data["ids"])
    return (f"Measured while preparing it: the reader's references alone ({n} closed-book and {n} full-context "
            f"prompts) took {data.get('seconds', float('nan')):,.0f} s on the shared CPU, and even with the full "
            f"context it answered {_fmt(data.get('full_context_reader_accuracy'))} of them (closed book "
            f"{_fmt(data.get('closed_book_reader_accuracy'))}), so a 135M-parameter reader cannot separate the "
            "methods on this multi-hop data and the time went to the retention columns instead. ")


def _sizes(value: str, datasets: list[str], default: int) -> str:
    names = {"hotpotqa": "HotpotQA", "nq": "NQ", "qmsum": "QMSum", "squad": "SQuAD"}
    return ", ".join(f"{n} ({names.get(d, d)})" for d, n in per_dataset(value, datasets, default).items())


def render(args: argparse.Namespace, not_run: dict[str, str]) -> str:
    os.makedirs(args.docs_dir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, ROOT)
                                                if sys.executable.startswith(ROOT) else "python",
                                                "benchmarks/run.py", *sys.argv[1:]])
    parts = [
        "# Benchmarks",
        "",
        "contextzip's compressors, its baselines and peer systems, run side by side on the same questions at the "
        "same token budgets (tiktoken `o200k_base`). Generated by `benchmarks/run.py`; do not edit by hand.",
        "",
        f"- Date: {now}.",
        f"- Command: `{command}` (from the repository root; `make bench` runs it with the defaults).",
        *environment(),
        f"- Subsets (fixed, CPU time is scarce here): the first {_sizes(args.limit, args.datasets, 100)} "
        f"questions; methods that run a language model per question (marked LM below) the first "
        f"{_sizes(args.lm_limit, args.datasets, 20)}; the reader ({args.reader}) answers the first "
        f"{_sizes(args.reader_limit, args.datasets, 0)} of each row's questions, and the closed-book and "
        "full-context references are computed once per data set on those same questions. Questions are always "
        "a prefix of the file, so rows with equal n saw exactly the same questions. Change the sizes with "
        "`--limit`, `--lm-limit`, `--reader-limit`.",
        "- Each (data set, method, rate) cell is cached under `benchmarks/results/` with its settings; this "
        "command reuses cells computed earlier with the same settings (`--fresh` recomputes everything).",
        "- Timings are wall-clock per question on a CPU shared with other jobs while these numbers were taken, "
        "so latency and tokens/s are noisy upper bounds; re-run on a quiet machine to compare speed.",
        "",
        "**Columns.** *answer retention*: share of answerable questions whose normalised gold answer occurs in "
        "the compressed context (HotpotQA yes/no questions excluded); for a row run on fewer questions, "
        f"*(default: x)* is `{DEFAULT_METHOD}`'s retention on that row's questions. *reader acc.*: share of questions where "
        "a normalised gold answer occurs in the reader's normalised reply, from the compressed context (n = "
        "questions read); *reader F1*: SQuAD token F1 of that reply. *ratio*: mean output/input tokens. *saved "
        "/ q*: mean input tokens saved per question. *budget violations*: outputs longer than the budget (a "
        "peer may overshoot; contextzip never should). *under 95%*: outputs under 95% of the budget. *p50 / p95 "
        "ms*: compression latency per question; *tokens/s*: input tokens compressed per second.",
        "",
    ]
    all_cells = [c for d in args.datasets for c in load_cells(args.results_dir, d, [m.name for m in METHODS], args.rates)]
    stamps = sorted(c["computed_at"] for c in all_cells if c.get("computed_at"))
    commits = sorted({c["git_commit"] for c in all_cells if c.get("git_commit")})
    if stamps:
        date_line = next(i for i, line in enumerate(parts) if line.startswith("- Date"))
        parts.insert(date_line + 1, f"- Cells computed {stamps[0]} to {stamps[-1]}"
                     + (f" (git HEAD {', '.join(commits)}, plus uncommitted work in progress)." if commits else "."))
    for dataset in args.datasets:
        cells = load_cells(args.results_dir, dataset, [m.name for m in METHODS], args.rates)
        if not cells:
            continue
        reader_name = next((c.get("reader") for c in cells if c.get("reader")), None)
        refs_data = read_references(args.results_dir, dataset, reader_name)
        refs_line = references_line(refs_data, reader_name)
        png = f"benchmarks-{dataset}.png"
        plot(cells, dataset, refs_data, os.path.join(args.docs_dir, png))
        title = {"hotpotqa": "HotpotQA (distractor, 10 paragraphs per question)",
                 "nq": "Natural Questions (open, gold passage)", "qmsum": "QMSum (meeting transcripts)"}.get(
            dataset, dataset)
        parts += [f"## {title}", "", table(cells), ""]
        if refs_line:
            parts += [refs_line, ""]
        elif args.reader != "none" and per_dataset(args.reader_limit, args.datasets, 0).get(dataset, 0) == 0:
            parts += [f"The reader was not run on {dataset} for this page (`--reader-limit {dataset}=0`). "
                      + _reader_skip_reason(read_references(args.results_dir, dataset, args.reader))
                      + f"Re-run with `--reader-limit {dataset}=N` on a "
                      "quieter machine to fill the column.", ""]
        lm_rows = sorted({METHODS_BY_NAME[c["method"]].label for c in cells if METHODS_BY_NAME[c["method"]].uses_lm})
        if lm_rows:
            parts += ["LM (smaller subset): " + "; ".join(lm_rows) + ".", ""]
        parts += [f"![{dataset}: answer retention and reader accuracy against compression ratio]({png})", ""]
        if dataset == "hotpotqa" and 0.25 in args.rates:
            parts += verdict(cells, dataset, 0.25) + [""]
    missing = []
    for dataset in args.datasets:
        have = {(c["method"], c["rate"]) for c in load_cells(args.results_dir, dataset, [m.name for m in METHODS],
                                                                args.rates)}
        for m in METHODS:
            if m.name in not_run:
                continue
            absent = [r for r in args.rates if (m.name, r) not in have]
            if absent:
                missing.append(f"- `{m.name}` on {dataset} at rate {', '.join(f'{r:g}' for r in absent)}: not "
                               "computed for this page (not in `--methods`, or CPU time ran out on the shared "
                               "machine); the command computes it when run with it in `--methods`.")
    if not_run or missing:
        parts += ["## Rows that did not run", ""]
        parts += [f"- `{name}`: {why}" for name, why in sorted(not_run.items())]
        parts += missing
        parts.append("")
    sections_dir = os.path.join(args.docs_dir, "sections")
    if os.path.isdir(sections_dir):
        for name in sorted(os.listdir(sections_dir)):
            if name.endswith(".md"):
                with open(os.path.join(sections_dir, name), encoding="utf-8") as f:
                    parts += [f.read().rstrip(), ""]
    text = "\n".join(parts).rstrip() + "\n"
    with open(os.path.join(args.docs_dir, "benchmarks.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["hotpotqa", "nq"], choices=["hotpotqa", "nq", "squad", "qmsum"])
    p.add_argument("--rates", nargs="+", type=float, default=[0.5, 0.25, 0.1])
    p.add_argument("--methods", nargs="+", default=[m.name for m in METHODS], choices=[m.name for m in METHODS])
    p.add_argument("--limit", default="hotpotqa=60,nq=100", help="questions per data set: N or dataset=N,... [hotpotqa=60,nq=100]")
    p.add_argument("--lm-limit", default="hotpotqa=8,nq=20",
                   help="questions for methods that run an LM per question [hotpotqa=8,nq=20]")
    p.add_argument("--reader", default="smollm2", help="none, smollm2 or openai:<model> [smollm2]")
    p.add_argument("--reader-limit", default="hotpotqa=0,nq=20",
                   help="questions the reader answers per row: N or dataset=N,... [hotpotqa=0,nq=20]")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    p.add_argument("--docs-dir", default=os.path.join(ROOT, "docs"))
    p.add_argument("--fresh", action="store_true", help="ignore cached cells and recompute everything")
    p.add_argument("--render-only", action="store_true", help="only rebuild the page from cached cells")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads [1]: on a shared, loaded CPU one thread measured ~10x faster than two "
                        "for SmolLM2 generation (threads spin-waiting on each other); 0 = torch's default")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.reader == "none":
        args.reader_limit = "0"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    not_run_path = os.path.join(args.results_dir, "not_run.json")
    if args.render_only:
        not_run = {}
        if os.path.exists(not_run_path):
            with open(not_run_path, encoding="utf-8") as f:
                not_run = json.load(f)
    else:
        not_run = run_all(args)
    render(args, not_run)
    logger.info("wrote %s", os.path.join(args.docs_dir, "benchmarks.md"))


if __name__ == "__main__":
    main()
