"""The benchmarks page, docs/benchmarks.md: its header, one table (and verdict) per data set, what did not run,
and every ``docs/sections/*.md`` appended verbatim. Reads only cached cells; draws the figures it links."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
from importlib import metadata
from typing import Any

from benchmarks.cells import load_cells, per_dataset, read_references, retention_interval, split_retention
from benchmarks.common import ROOT, machine
from benchmarks.methods import DEFAULT_METHOD, METHOD_NAMES, METHODS, METHODS_BY_NAME
from benchmarks.plots import figure_name, plot

TITLES = {"hotpotqa": "HotpotQA (distractor, 10 paragraphs per question)",
          "nq": "Natural Questions (open, gold passage)", "qmsum": "QMSum (meeting transcripts)"}


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, spec)


def _retention(cell: dict[str, Any]) -> str:
    """Answer retention with its 95% bootstrap interval over the cell's questions."""
    interval = retention_interval(cell)
    ci = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    return _fmt(cell.get("answer_retention")) + ci


def _tune_report(cell: dict[str, Any], dataset: str) -> str:
    """Answer retention on the tune and the report half of the cell's questions (``--split``)."""
    (tune, n_tune), (report, n_report) = (split_retention(cell, dataset, s) for s in ("tune", "report"))
    return f"{_fmt(tune)} ({n_tune}) / {_fmt(report)} ({n_report})"


def machine_label(cell: dict[str, Any]) -> str:
    """A short name for the machine a cell was measured on ("" when not recorded), shown beside its timings."""
    import hashlib

    m = cell.get("machine")
    return f"M-{hashlib.sha1(m.encode()).hexdigest()[:4]}" if m else ""


def table(cells: list[dict[str, Any]], dataset: str) -> str:
    head = ("| method | rate | n | answer retention [95% CI] | tune / report (n) | reader acc. (n) | reader F1 | "
            "ratio | tokens in → out | saved / q | budget violations | under 95% | p50 / p95 ms | tokens/s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    defaults = {c["rate"]: c for c in cells if c["method"] == DEFAULT_METHOD}
    for c in sorted(cells, key=lambda c: (-c["rate"], METHOD_NAMES.index(c["method"]))):
        reader = "–" if not c.get("n_reader") else f"{_fmt(c.get('reader_accuracy'))} ({c['n_reader']})"
        where = f" ({machine_label(c)})" if c.get("machine") else ""
        retention = _retention(c)
        default = defaults.get(c["rate"])
        if default is not None and c["method"] != DEFAULT_METHOD and c["n"] < default["n"]:
            same, _, _ = _subset_stats(default, {r["id"] for r in c["rows"]})
            retention += f" (default: {_fmt(same)})"
        lines.append(
            f"| {METHODS_BY_NAME[c['method']].label} | {c['rate']:g} | {c['n']} | {retention} | "
            f"{_tune_report(c, dataset)} | {reader} | {_fmt(c.get('reader_f1')) if c.get('n_reader') else '–'} | {_fmt(c.get('mean_ratio'))} | "
            f"{_fmt(c.get('mean_original_tokens'), '.0f')} → {_fmt(c.get('mean_compressed_tokens'), '.0f')} | "
            f"{_fmt(c.get('mean_tokens_saved'), '.0f')} | {c.get('budget_violations')} | "
            f"{c.get('under_95_percent_of_budget')} | {_fmt(c.get('p50_ms'), '.0f')} / {_fmt(c.get('p95_ms'), '.0f')}"
            f"{where} | "
            f"{_fmt(c.get('tokens_per_second'), ',.0f')} |"
        )
    return "\n".join(lines)


def references_line(data: dict[str, Any], reader_name: str | None) -> str:
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


def environment(all_cells: list[dict[str, Any]]) -> list[str]:
    lines = [f"- Machine (this rendering): {machine()}."]
    measured: dict[str, int] = {}
    for cell in all_cells:
        key = f"{machine_label(cell)}: {cell['machine']}" if cell.get("machine") else "not recorded"
        measured[key] = measured.get(key, 0) + 1
    if measured:
        lines.append("- Machines the cells were measured on (timings are that machine's, and a row's p50 names it; "
                     "cells from before machines were recorded say \"not recorded\"): "
                     + "; ".join(f"{m} ({n} cells)" for m, n in sorted(measured.items(), key=lambda x: -x[1])) + ".")
    versions = []
    for pkg in ("contextzip-rag", "torch", "transformers", "tiktoken", "sentence-transformers", "llmlingua",
                "langchain-core", "langchain-classic", "langchain-community", "rouge-score", "matplotlib"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return [*lines, f"- Python {platform.python_version()}; " + ", ".join(versions) + "."]


def _reader_skip_reason(data: dict[str, Any]) -> str:
    """The measured reason, from an earlier references run on this data set."""
    n = len(data["ids"])
    return (f"Measured while preparing it: the reader's references alone ({n} closed-book and {n} full-context "
            f"prompts) took {data.get('seconds', float('nan')):,.0f} s on the shared CPU, and even with the full "
            f"context it answered {_fmt(data.get('full_context_reader_accuracy'))} of them (closed book "
            f"{_fmt(data.get('closed_book_reader_accuracy'))}), so a 135M-parameter reader cannot separate the "
            "methods on this multi-hop data and the time went to the retention columns instead. ")


def _sizes(value: str, datasets: list[str], default: int) -> str:
    names = {"hotpotqa": "HotpotQA", "nq": "NQ", "qmsum": "QMSum", "squad": "SQuAD"}
    return ", ".join(f"{n} ({names.get(d, d)})" for d, n in per_dataset(value, datasets, default).items())


def _header(args: argparse.Namespace, all_cells: list[dict[str, Any]]) -> list[str]:
    """Title, how and when the numbers were taken, on what machine, and what each column means."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, ROOT)
                                                if sys.executable.startswith(ROOT) else "python",
                                                "benchmarks/run.py", *sys.argv[1:]])
    stamps = sorted(c["computed_at"] for c in all_cells if c.get("computed_at"))
    commits = sorted({c["git_commit"] for c in all_cells if c.get("git_commit")})
    computed = []
    if stamps:
        computed.append(f"- Cells computed {stamps[0]} to {stamps[-1]}"
                        + (f" (git HEAD {', '.join(commits)}, plus uncommitted work in progress)." if commits else "."))
    return [
        "# Benchmarks",
        "",
        "contextzip's compressors, its baselines and peer systems, run side by side on the same questions at the "
        "same token budgets (tiktoken `o200k_base`). Generated by `benchmarks/run.py`; do not edit by hand.",
        "",
        f"- Date: {now}.",
        *computed,
        f"- Command: `{command}` (from the repository root; `make bench` runs it with the defaults).",
        *environment(all_cells),
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


def _dataset_section(args: argparse.Namespace, dataset: str, cells: list[dict[str, Any]]) -> list[str]:
    """The table of ``dataset``, its reader references, its figure (drawn here) and, on HotpotQA, the verdict."""
    reader_name = next((c.get("reader") for c in cells if c.get("reader")), None)
    refs_data = read_references(args.results_dir, dataset, reader_name)
    png = figure_name(dataset)
    plot(cells, dataset, refs_data, os.path.join(args.docs_dir, png))
    parts = [f"## {TITLES.get(dataset, dataset)}", "", table(cells, dataset), ""]
    if refs_data is not None:
        parts += [references_line(refs_data, reader_name), ""]
    elif args.reader != "none" and per_dataset(args.reader_limit, args.datasets, 0).get(dataset, 0) == 0:
        earlier = read_references(args.results_dir, dataset, args.reader)
        parts += [f"The reader was not run on {dataset} for this page (`--reader-limit {dataset}=0`). "
                  + (_reader_skip_reason(earlier) if earlier is not None else "")
                  + f"Re-run with `--reader-limit {dataset}=N` on a "
                  "quieter machine to fill the column.", ""]
    lm_rows = sorted({METHODS_BY_NAME[c["method"]].label for c in cells if METHODS_BY_NAME[c["method"]].uses_lm})
    if lm_rows:
        parts += ["LM (smaller subset): " + "; ".join(lm_rows) + ".", ""]
    parts += [f"![{dataset}: answer retention and reader accuracy against compression ratio]({png})", ""]
    if dataset == "hotpotqa" and 0.25 in args.rates:
        parts += verdict(cells, dataset, 0.25) + [""]
    return parts


def _did_not_run(args: argparse.Namespace, cells_by_dataset: dict[str, list[dict[str, Any]]],
                 not_run: dict[str, str]) -> list[str]:
    """Methods that could not run (with why), then cells that were not computed for this page."""
    missing = []
    for dataset, cells in cells_by_dataset.items():
        have = {(c["method"], c["rate"]) for c in cells}
        for m in METHODS:
            if m.name in not_run:
                continue
            absent = [r for r in args.rates if (m.name, r) not in have]
            if absent:
                missing.append(f"- `{m.name}` on {dataset} at rate {', '.join(f'{r:g}' for r in absent)}: not "
                               "computed for this page (not in `--methods`, or CPU time ran out on the shared "
                               "machine); the command computes it when run with it in `--methods`.")
    if not not_run and not missing:
        return []
    return ["## Rows that did not run", "", *(f"- `{name}`: {why}" for name, why in sorted(not_run.items())),
            *missing, ""]


def _appended_sections(docs_dir: str) -> list[str]:
    """Every ``docs/sections/*.md``, verbatim, in name order."""
    sections_dir = os.path.join(docs_dir, "sections")
    if not os.path.isdir(sections_dir):
        return []
    parts = []
    for name in sorted(os.listdir(sections_dir)):
        if name.endswith(".md"):
            with open(os.path.join(sections_dir, name), encoding="utf-8") as f:
                parts += [f.read().rstrip(), ""]
    return parts


def render(args: argparse.Namespace, not_run: dict[str, str]) -> str:
    """Write ``<docs>/benchmarks.md`` (and its figures) from the cached cells; returns the page's text."""
    os.makedirs(args.docs_dir, exist_ok=True)
    cells_by_dataset = {d: load_cells(args.results_dir, d, METHOD_NAMES, args.rates) for d in args.datasets}
    parts = _header(args, [c for cells in cells_by_dataset.values() for c in cells])
    for dataset, cells in cells_by_dataset.items():
        if cells:
            parts += _dataset_section(args, dataset, cells)
    parts += _did_not_run(args, cells_by_dataset, not_run)
    parts += _appended_sections(args.docs_dir)
    text = "\n".join(parts).rstrip() + "\n"
    with open(os.path.join(args.docs_dir, "benchmarks.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text
